"""Step throughput: one wide job of independent steps, and many one-step jobs.

Wall time runs from ``Client.submit`` to the return of ``JobHandle.wait`` (the
last result), with the SDK doing exactly what a user's program would do. The
comparison with plain Celery, both in the same run, is ``dispatch``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from benchmarks.deployment import JOB_TIMEOUT, Deployment, check, events, last_start, timed
from benchmarks.report import Column, Table, fixed, median, wall_stats


@dataclass(frozen=True)
class Sizes:
    wide: tuple[int, ...]  # steps in one job, with echo
    noop_wide: int  # steps in one job, with noop
    chain: int  # steps in one job, each depending on the one before, with noop
    jobs: int  # one-step jobs submitted back to back
    repeats: int


FULL = Sizes(wide=(1000, 2000), noop_wide=1000, chain=100, jobs=500, repeats=3)
QUICK = Sizes(wide=(100,), noop_wide=100, chain=20, jobs=50, repeats=1)


def wide_plan(agent: str, steps: int) -> dict[str, Any]:
    return {
        "steps": [{"id": f"s{i}", "agent": agent, "input": {"text": "x"}} for i in range(steps)]
    }


def chain_plan(agent: str, steps: int) -> dict[str, Any]:
    return {
        "steps": [
            {"id": f"s{i}", "agent": agent, "input": {"text": "x"}}
            | ({"depends_on": [f"s{i - 1}"]} if i else {})
            for i in range(steps)
        ]
    }


def one_step_plan(agent: str) -> dict[str, Any]:
    return {"steps": [{"id": "a", "agent": agent, "input": {"text": "x"}}]}


def wide_job(
    live: Deployment, agent: str, steps: int, repeats: int, *, chained: bool = False
) -> dict[str, Any]:
    plan = chain_plan(agent, steps) if chained else wide_plan(agent, steps)
    walls, starts = [], []
    for _ in range(repeats):
        wall, handle = timed(live, plan)
        walls.append(wall)
        starts.append(last_start(events(handle)))
    wall = median(walls)
    return {
        "case": f"1 job, a chain of {steps} {agent} steps"
        if chained
        else f"1 job x {steps} {agent} steps",
        "agent": agent,
        "steps": steps,
        "jobs": 1,
        **wall_stats(walls),
        "last_start_s": median(starts),
        "steps_per_s": steps / wall,
        "jobs_per_s": None,
    }


def many_jobs(live: Deployment, agent: str, jobs: int, repeats: int) -> dict[str, Any]:
    plan = one_step_plan(agent)
    walls, submits = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        handles = [live.submit(plan) for _ in range(jobs)]
        submits.append(time.perf_counter() - start)
        for handle in handles:
            check(handle.wait(timeout=JOB_TIMEOUT))
        walls.append(time.perf_counter() - start)
    wall = median(walls)
    return {
        "case": f"{jobs} jobs x 1 {agent} step",
        "agent": agent,
        "steps": jobs,
        "jobs": jobs,
        **wall_stats(walls),
        "submit_jobs_per_s": jobs / median(submits),
        "steps_per_s": jobs / wall,
        "jobs_per_s": jobs / wall,
    }


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    sizes = QUICK if quick else FULL
    repeats = repeats or sizes.repeats
    table = Table(
        "Step throughput (submit to last result, median of runs)",
        [
            Column("case", "case", left=True),
            Column("workers", "worker procs"),
            Column("runs", "runs"),
            Column("wall_s", "wall s", fixed(2)),
            Column("wall_range_s", "min-max s"),
            Column("last_start_s", "last step started s", fixed(2)),
            Column("steps_per_s", "steps/s", fixed(0), better="higher"),
            Column("jobs_per_s", "jobs/s", fixed(0)),
            Column("submit_jobs_per_s", "submits/s", fixed(0)),
        ],
        key=("case", "workers"),
    )
    biggest = max((*sizes.wide, sizes.noop_wide))
    for workers in (1, 2):
        # Larger plans than the default limit: the limit is a guard, not what is measured.
        with Deployment(workers=workers, max_plan_steps=max(biggest, 1000)) as live:
            timed(live, wide_plan("echo", 50))  # warm up: imports, pools, threads
            rows = [wide_job(live, "echo", steps, repeats) for steps in sizes.wide]
            rows.append(wide_job(live, "noop", sizes.noop_wide, repeats))
            rows.append(wide_job(live, "noop", sizes.chain, repeats, chained=True))
            rows.append(many_jobs(live, "echo", sizes.jobs, repeats))
        for row in rows:
            row["workers"] = workers
        table.rows += rows
    table.notes += [
        "each worker process: `celeriac worker` defaults (threads pool, concurrency 256, "
        "serves every agent and the orchestrator queue)",
        "echo also INCRs a run counter on a new Redis connection and reports progress; "
        "noop (benchmarks/agents.py) does nothing",
        "N jobs: all submitted back to back, then each waited for in order; "
        "submits/s is the submit loop alone",
        "last step started: from job_submitted to the last step_started event (median); "
        "near the wall time, the job was still dispatching steps at the end",
    ]
    return [table]
