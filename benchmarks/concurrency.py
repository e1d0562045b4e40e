"""I/O concurrency: ONE worker process with a 300-thread pool, running 1 s sleep steps.

The ideal wall time is one second per wave of ``concurrency`` steps. DESIGN.md's
baseline, plain Celery 5.7 with the threads pool ``-c 300`` on one process:
300 sleeps in 2.0-2.3 s, 1,000 in 4.2 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from benchmarks.deployment import Deployment, events, last_start, max_running, timed
from benchmarks.report import Column, Table, fixed, median, wall_stats

SLEEP_SECONDS = 1.0
CELERY_BASELINE = {300: "2.0-2.3", 1000: "4.2"}  # seconds, plain Celery threads -c 300


@dataclass(frozen=True)
class Sizes:
    concurrency: int
    steps: tuple[int, ...]
    repeats: int


FULL = Sizes(concurrency=300, steps=(300, 1000), repeats=3)
QUICK = Sizes(concurrency=50, steps=(50, 150), repeats=1)


def sleep_plan(steps: int) -> dict[str, Any]:
    return {
        "steps": [
            {"id": f"s{i}", "agent": "sleep", "input": {"seconds": SLEEP_SECONDS}}
            for i in range(steps)
        ]
    }


def measure(live: Deployment, steps: int, concurrency: int, repeats: int) -> dict[str, Any]:
    plan = sleep_plan(steps)
    walls, peaks, starts = [], [], []
    for _ in range(repeats):
        wall, handle = timed(live, plan)
        walls.append(wall)
        job_events = events(handle)
        peaks.append(max_running(job_events))
        starts.append(last_start(job_events))
    ideal = math.ceil(steps / concurrency) * SLEEP_SECONDS
    wall = median(walls)
    return {
        "steps": steps,
        "concurrency": concurrency,
        **wall_stats(walls),
        "ideal_s": ideal,
        "efficiency": ideal / wall,
        "max_running": max(peaks),
        "last_start_s": median(starts),
        "celery_s": CELERY_BASELINE.get(steps) if concurrency == 300 else None,
    }


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    sizes = QUICK if quick else FULL
    repeats = repeats or sizes.repeats
    args = ["--concurrency", str(sizes.concurrency), "--pool", "threads"]
    table = Table(
        f"I/O concurrency: {SLEEP_SECONDS:g} s sleep steps in one job, ONE worker process "
        f"(`celeriac worker {' '.join(args)}`)",
        [
            Column("steps", "steps"),
            Column("concurrency", "threads"),
            Column("runs", "runs"),
            Column("wall_s", "wall s", fixed(2)),
            Column("wall_range_s", "min-max s"),
            Column("ideal_s", "ideal s", fixed(1)),
            Column("efficiency", "ideal/wall", fixed(2)),
            Column("max_running", "max running at once"),
            Column("last_start_s", "last step started s", fixed(2)),
            Column("celery_s", "plain Celery s"),
        ],
    )
    with Deployment(workers=1, worker_args=args) as live:
        timed(live, sleep_plan(10))  # warm up
        table.rows += [measure(live, n, sizes.concurrency, repeats) for n in sizes.steps]
    table.notes += [
        "ideal = one sleep per wave of `threads` steps; max running at once is replayed "
        "from the job's event stream; last step started: from job_submitted to the last "
        "step_started event (median)",
    ]
    return [table]
