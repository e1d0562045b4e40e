"""Latency: a 4-step diamond of echo steps, submitted one at a time.

``a`` feeds ``b`` and ``c``; ``d`` takes ``b``'s text and waits for ``c``. The
critical path is three steps long, so per-step overhead is the job's wall time
divided by 3. The phases come from the job's own events (Redis's clock):
plan = job_submitted to job_started, steps = job_started to the last
step_succeeded, finalize = from there to job_finished; client = the rest of
the wall time (validation, submit, waiting, fetching the result).
"""

from __future__ import annotations

from typing import Any

from benchmarks.deployment import Deployment, events, timed
from benchmarks.report import Column, Table, fixed, median, percentile
from orchestrator.models import Event

CRITICAL_PATH = 3
FULL_JOBS, QUICK_JOBS = 50, 10
WARMUP_JOBS = 3

DIAMOND: dict[str, Any] = {
    "steps": [
        {"id": "a", "agent": "echo", "input": {"text": "x"}},
        {"id": "b", "agent": "echo", "input": {"text": {"$from": "a", "path": "text"}}},
        {"id": "c", "agent": "echo", "input": {"text": {"$from": "a", "path": "text"}}},
        {
            "id": "d",
            "agent": "echo",
            "input": {"text": {"$from": "b", "path": "text"}},
            "depends_on": ["c"],
        },
    ]
}


def phases(job_events: list[Event]) -> dict[str, float]:
    """Seconds spent planning, running steps and finalizing, from the event stream."""

    def at(kind: str, last: bool = False) -> float:
        times = [e.at.timestamp() for e in job_events if e.type == kind]
        return max(times) if last else min(times)

    submitted, started = at("job_submitted"), at("job_started")
    last_step, finished = at("step_succeeded", last=True), at("job_finished")
    return {
        "plan": started - submitted,
        "steps": last_step - started,
        "finalize": finished - last_step,
        "server": finished - submitted,
    }


def measure(live: Deployment, jobs: int) -> dict[str, Any]:
    for _ in range(WARMUP_JOBS):
        timed(live, DIAMOND)
    walls, split = [], []
    for _ in range(jobs):
        wall, handle = timed(live, DIAMOND)
        walls.append(wall)
        split.append({**phases(events(handle)), "wall": wall})
    ms = 1000.0
    return {
        "jobs": jobs,
        "p50_ms": percentile(walls, 50) * ms,
        "p95_ms": percentile(walls, 95) * ms,
        "max_ms": max(walls) * ms,
        "per_step_ms": median(walls) * ms / CRITICAL_PATH,
        "plan_ms": median([s["plan"] for s in split]) * ms,
        "steps_ms": median([s["steps"] for s in split]) * ms,
        "step_hop_ms": median([s["steps"] for s in split]) * ms / CRITICAL_PATH,
        "finalize_ms": median([s["finalize"] for s in split]) * ms,
        "client_ms": median([s["wall"] - s["server"] for s in split]) * ms,
        "walls_ms": [wall * ms for wall in walls],
    }


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    """``repeats`` is not used: the figures are already percentiles over many jobs."""
    jobs = QUICK_JOBS if quick else FULL_JOBS
    table = Table(
        "Latency of a 4-step echo diamond (a -> b, c -> d), one job at a time",
        [
            Column("workers", "worker procs"),
            Column("jobs", "jobs"),
            Column("p50_ms", "p50 ms", fixed(1), better="lower"),
            Column("p95_ms", "p95 ms", fixed(1)),
            Column("max_ms", "max ms", fixed(1)),
            Column("per_step_ms", "per step ms (p50/3)", fixed(1)),
            Column("plan_ms", "plan ms", fixed(1)),
            Column("steps_ms", "steps ms", fixed(1)),
            Column("step_hop_ms", "per step hop ms", fixed(1)),
            Column("finalize_ms", "finalize ms", fixed(1)),
            Column("client_ms", "client ms", fixed(1)),
        ],
        key=("workers", "jobs"),
    )
    for workers in (1, 2):
        with Deployment(workers=workers) as live:
            table.rows.append({"workers": workers, **measure(live, jobs)})
    table.notes += [
        f"{WARMUP_JOBS} warm-up jobs first; phase columns are medians over the jobs",
        "per step = p50 wall / 3 (critical path a -> b -> d); per step hop = steps phase / 3",
    ]
    return [table]
