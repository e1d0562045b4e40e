"""Dispatch overhead and scale: N one-step jobs of a no-op agent through celeriac versus
N plain Celery tasks (``apply_async``, then each result), on the same Redis and the same
worker pool (threads, 256), in the same run, with 1, 2 and 4 worker processes.

Both sides wait for every result: celeriac's client for each job's end, Celery's for
each task's result in the Redis backend. Runs alternate between the two sides.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery

from benchmarks import raw_celery
from benchmarks.deployment import JOB_TIMEOUT, BenchmarkError, Deployment, check
from benchmarks.memory import cpu_seconds
from benchmarks.report import Column, Table, fixed, median

CONCURRENCY = 256  # celeriac's default, for both sides
CPU_GROUPS = ("workers", "redis", "client")


@dataclass(frozen=True)
class Sizes:
    jobs: int
    workers: tuple[int, ...]
    repeats: int


FULL = Sizes(jobs=1000, workers=(1, 2, 4), repeats=5)
QUICK = Sizes(jobs=100, workers=(1, 2), repeats=1)

ONE_STEP = {"steps": [{"id": "a", "agent": "noop", "input": {"text": "x"}}]}


def celeriac_rate(live: Deployment, jobs: int) -> float:
    start = time.perf_counter()
    handles = [live.submit(ONE_STEP) for _ in range(jobs)]
    for handle in handles:
        check(handle.wait(timeout=JOB_TIMEOUT))
    return jobs / (time.perf_counter() - start)


def celery_rate(app: Celery, jobs: int) -> float:
    start = time.perf_counter()
    with app.producer_or_acquire() as producer:
        results = [
            app.send_task(raw_celery.TASK, args=["x"], producer=producer) for _ in range(jobs)
        ]
    for result in results:
        if result.get(timeout=JOB_TIMEOUT) != "x":
            raise BenchmarkError(f"plain Celery task {result.id} returned the wrong value")
    return jobs / (time.perf_counter() - start)


def cpu_ms(pids: dict[str, list[int]], measured: Callable[[], float], jobs: int) -> dict[str, Any]:
    """``measured()``'s rate, and the CPU ms per job meanwhile of each group of ``pids``
    (the client: this process)."""
    before = {group: sum(cpu_seconds(pid) for pid in members) for group, members in pids.items()}
    client = own_cpu_seconds()
    rate = measured()
    used = {
        group: (sum(cpu_seconds(pid) for pid in members) - before[group]) * 1000 / jobs
        for group, members in pids.items()
    }
    used["client"] = (own_cpu_seconds() - client) * 1000 / jobs
    return {"rate": rate, **used}


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return float(usage.ru_utime + usage.ru_stime)


def measure(workers: int, sizes: Sizes, repeats: int) -> dict[str, Any]:
    ours, theirs = [], []
    worker_args = ["--concurrency", str(CONCURRENCY)]
    with Deployment(workers=workers, worker_args=worker_args) as live:
        assert live.sdk.settings.redis_url
        url = live.sdk.settings.redis_url
        with raw_celery.raw_workers(url, workers, CONCURRENCY) as (app, raw_pids):
            celeriac_rate(live, 50)  # warm up both: imports, pools, connections
            celery_rate(app, 50)
            redis = [live.redis_pid()]
            for _ in range(repeats):
                ours.append(
                    cpu_ms(
                        {"workers": live.worker_pids(), "redis": redis},
                        lambda: celeriac_rate(live, sizes.jobs),
                        sizes.jobs,
                    )
                )
                theirs.append(
                    cpu_ms(
                        {"workers": raw_pids, "redis": redis},
                        lambda: celery_rate(app, sizes.jobs),
                        sizes.jobs,
                    )
                )
    rates = [r["rate"] for r in ours], [r["rate"] for r in theirs]

    def cpu(runs: list[dict[str, Any]], group: str) -> float:
        return median([r[group] for r in runs])

    return {
        "workers": workers,
        "jobs": sizes.jobs,
        "runs": repeats,
        "celeriac_per_s": median(rates[0]),
        "celeriac_all": [round(r) for r in rates[0]],
        "celery_per_s": median(rates[1]),
        "celery_all": [round(r) for r in rates[1]],
        "ratio": median(ratios := [a / b for a, b in zip(*rates, strict=True)]),
        "ratio_range": f"{min(ratios):.2f}-{max(ratios):.2f}",
        **{f"celeriac_cpu_{group}_ms": cpu(ours, group) for group in CPU_GROUPS},
        **{f"celery_cpu_{group}_ms": cpu(theirs, group) for group in CPU_GROUPS},
        "celeriac_cpu_ms": median([sum(r[g] for g in CPU_GROUPS) for r in ours]),
        "celery_cpu_ms": median([sum(r[g] for g in CPU_GROUPS) for r in theirs]),
    }


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    sizes = QUICK if quick else FULL
    repeats = repeats or sizes.repeats
    table = Table(
        "Dispatch: one-step no-op jobs vs plain Celery tasks, same Redis and pool",
        [
            Column("workers", "worker procs"),
            Column("jobs", "jobs / tasks"),
            Column("runs", "runs"),
            Column("celeriac_per_s", "celeriac jobs/s", fixed(0), better="higher"),
            Column("celery_per_s", "Celery tasks/s", fixed(0)),
            Column("ratio", "ratio", fixed(2), better="higher"),
            Column("ratio_range", "ratio min-max", left=True),
            Column("celeriac_cpu_ms", "celeriac CPU ms/job", fixed(2), better="lower"),
            Column("celery_cpu_ms", "Celery CPU ms/task", fixed(2)),
        ],
        key=("workers", "jobs"),
    )
    table.rows = [measure(workers, sizes, repeats) for workers in sizes.workers]
    table.notes += [
        f"both: threads pool, concurrency {CONCURRENCY}, prefetch 1, acks late, worker task "
        "events on, no task-sent events",
        "celeriac: Client.submit of each job, then JobHandle.wait of each; plain Celery: "
        "send_task of each (one producer), then AsyncResult.get of each",
        "ratio: celeriac / Celery, median of the runs' ratios (runs alternate)",
        "CPU ms/job: user + system CPU of the workers, Redis and the client (this process) "
        "during a run, per job or task (medians; each part is in the JSON)",
    ]
    return [table]
