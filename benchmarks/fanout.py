"""Fan-out and fan-in: one job of N independent noop steps and one step that takes them all.

The ``gather`` step (benchmarks/agents.py) has every noop's text in its input, as a
list of ``{"$from": "sI", "path": "text"}`` references, and returns how many it
got. The phases come from the job's events (Redis's clock): noops = job_submitted
to the last noop's step_succeeded; fan-in = from there to gather's step_started;
finalize = gather's step_succeeded to job_finished.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.deployment import BenchmarkError, Deployment, events, timed
from benchmarks.report import Column, Table, fixed, median, wall_stats
from orchestrator.models import Event

FULL_STEPS, QUICK_STEPS = 500, 100
FULL_REPEATS = 3
GATHER = "all"


def fanout_plan(steps: int) -> dict[str, Any]:
    """``steps`` noop steps ``s0``... and the gather step ``all`` that depends on each."""
    noops = [{"id": f"s{i}", "agent": "noop", "input": {"text": "x"}} for i in range(steps)]
    texts = [{"$from": f"s{i}", "path": "text"} for i in range(steps)]
    gather = {"id": GATHER, "agent": "gather", "input": {"texts": texts}}
    return {"steps": [*noops, gather], "answer_from": GATHER}


def phases(job_events: Sequence[Event]) -> dict[str, float]:
    """Seconds from submit to the last noop, the fan-in hop, gather's run, and finalizing."""

    def times(kind: str, gather: bool) -> list[float]:
        return [
            e.at.timestamp()
            for e in job_events
            if e.type == kind and (e.step_id == GATHER) == gather
        ]

    submitted = min(e.at.timestamp() for e in job_events if e.type == "job_submitted")
    finished = max(e.at.timestamp() for e in job_events if e.type == "job_finished")
    last_noop = max(times("step_succeeded", gather=False))
    gather_started = max(times("step_started", gather=True))
    gather_done = max(times("step_succeeded", gather=True))
    return {
        "noops": last_noop - submitted,
        "fan_in": gather_started - last_noop,
        "gather": gather_done - gather_started,
        "finalize": finished - gather_done,
        "server": finished - submitted,
    }


def measure(live: Deployment, steps: int, repeats: int) -> dict[str, Any]:
    plan = fanout_plan(steps)
    walls, split = [], []
    for _ in range(repeats):
        wall, handle = timed(live, plan)
        answer = handle.result().answer
        if answer != {"count": steps}:
            raise BenchmarkError(f"job {handle.id}: gather saw {answer}, not {steps} texts")
        walls.append(wall)
        split.append({**phases(events(handle)), "wall": wall})
    ms = 1000.0
    return {
        "steps": steps,
        **wall_stats(walls),
        "steps_per_s": (steps + 1) / median(walls),
        "noops_s": median([s["noops"] for s in split]),
        "noop_steps_per_s": steps / median([s["noops"] for s in split]),
        "fan_in_ms": median([s["fan_in"] for s in split]) * ms,
        "gather_ms": median([s["gather"] for s in split]) * ms,
        "finalize_ms": median([s["finalize"] for s in split]) * ms,
        "client_ms": median([s["wall"] - s["server"] for s in split]) * ms,
    }


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    steps = QUICK_STEPS if quick else FULL_STEPS
    repeats = repeats or (1 if quick else FULL_REPEATS)
    table = Table(
        f"Fan-out / fan-in: one job of {steps} noop steps and one gather step taking all "
        "their outputs (submit to result, median of runs)",
        [
            Column("workers", "worker procs"),
            Column("runs", "runs"),
            Column("wall_s", "wall s", fixed(2)),
            Column("wall_range_s", "min-max s"),
            Column("steps_per_s", "steps/s", fixed(0), better="higher"),
            Column("noops_s", "submit to last noop s", fixed(2)),
            Column("noop_steps_per_s", "noops/s", fixed(0)),
            Column("fan_in_ms", "fan-in ms", fixed(1)),
            Column("gather_ms", "gather ms", fixed(1)),
            Column("finalize_ms", "finalize ms", fixed(1)),
            Column("client_ms", "client ms", fixed(1)),
        ],
        key=("workers", "steps"),
    )
    for workers in (1, 2):
        with Deployment(workers=workers) as live:
            timed(live, fanout_plan(20))  # warm up: imports, pools, threads
            table.rows.append({"workers": workers, **measure(live, steps, repeats)})
    table.notes += [
        f"steps/s = {steps + 1} steps / wall; noops/s = {steps} / (job_submitted to the "
        "last noop's step_succeeded)",
        "fan-in: last noop's step_succeeded to gather's step_started; gather: its run; "
        "finalize: gather's step_succeeded to job_finished; client: wall minus job_submitted "
        "to job_finished (events on Redis's clock, medians over the runs)",
    ]
    return [table]
