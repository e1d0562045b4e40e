"""I/O concurrency: ONE worker process running one job of N parallel model calls.

Every step is one ``ask`` (tests/support/llm_agents.py) through the real openai SDK to the
OpenAI-compatible test server (tests/support/llm_server.py, in this process), which answers
each call after ``MODEL_SECONDS``. All N steps could run at once, so the ideal wall
time is one call. Targets (issue 8): 1,000 steps within 3 s, 300 within 2 s, and the
worker's peak RSS under 400 MB.

Beside it, in the same run, on the same Redis and test server: plain Celery, one worker
process with the same pool and concurrency, N tasks that each make the same call with
the SDK's client as its docs show (``benchmarks/raw_celery.py``), sent at once and each
result fetched. The ratio is plain Celery's wall time over celeriac's (above 1: celeriac
is faster).

Then, on the first deployment, a run of jobs one after another (``sustained``): whether a
worker that has been busy a while is as fast as a fresh one, and keeps its memory.

The timeline comes from the job's events (Redis's clock, from job_submitted): when
the last step started and the last one succeeded, and how many had started within
0.5 s. The worker's memory is sampled from /proc/PID/status while the job runs
(VmRSS every 20 ms; VmHWM, the kernel's peak since the process started, after it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from celery import Celery

from benchmarks import raw_celery
from benchmarks.deployment import (
    JOB_TIMEOUT,
    MODEL_SETTINGS,
    BenchmarkError,
    Deployment,
    events,
    last_start,
    max_running,
    model_endpoint,
    timed,
)
from benchmarks.memory import cpu_seconds, status_fields
from benchmarks.report import Column, Table, fixed, median, wall_stats
from orchestrator.models import Event
from tests.support.llm_server import LLMServer

MODEL_SECONDS = 1.0
TARGET_S = {300: 2.0, 1000: 3.0}  # issue 8; quick sizes have none
MEMORY_TARGET_MIB = 400 * 1000**2 / 1024**2  # 400 MB
SAMPLE_EVERY = 0.02  # seconds
EARLY = 0.5  # seconds: steps started this soon after submit count as "early"


@dataclass(frozen=True)
class Sizes:
    concurrencies: tuple[int, ...]  # one deployment each
    steps: tuple[int, ...]
    repeats: int
    sustained: tuple[int, int]  # jobs one after another, steps each (first deployment)


FULL = Sizes(concurrencies=(1000, 1100), steps=(300, 1000), repeats=3, sustained=(20, 1000))
QUICK = Sizes(concurrencies=(200,), steps=(50, 150), repeats=1, sustained=(4, 150))


def ask_plan(steps: int) -> dict[str, Any]:
    return {
        "steps": [
            {"id": f"s{i}", "agent": "ask", "input": {"question": "go"}} for i in range(steps)
        ]
    }


def yes_no(ok: bool) -> str:
    return "yes" if ok else "no"


def kib_to_mib(field: str) -> float:
    return int(field.split()[0]) / 1024


@contextmanager
def watch_worker(pid: int) -> Iterator[dict[str, float]]:
    """Sample ``pid``'s VmRSS and threads until the block ends. The dict yielded holds
    their peaks (MiB, count) and, after the block, the process's VmHWM (MiB) and the
    CPU seconds it used meanwhile."""
    seen = {"rss_mib": 0.0, "threads": 0.0}
    stop = threading.Event()

    def sample() -> None:
        while True:
            fields = status_fields(pid)
            seen["rss_mib"] = max(seen["rss_mib"], kib_to_mib(fields["VmRSS"]))
            seen["threads"] = max(seen["threads"], int(fields["Threads"]))
            if stop.wait(SAMPLE_EVERY):
                return

    sampler = threading.Thread(target=sample, name="worker-sampler", daemon=True)
    cpu = cpu_seconds(pid)
    sampler.start()
    try:
        yield seen
    finally:
        stop.set()
        sampler.join()
        seen["cpu_s"] = cpu_seconds(pid) - cpu
        seen["hwm_mib"] = kib_to_mib(status_fields(pid)["VmHWM"])


def timeline(job_events: Sequence[Event]) -> dict[str, float]:
    """Seconds from job_submitted: first and last step_succeeded, job_finished; and how
    many steps started within ``EARLY`` seconds."""
    submitted = min(e.at.timestamp() for e in job_events if e.type == "job_submitted")
    starts = [e.at.timestamp() - submitted for e in job_events if e.type == "step_started"]
    done = [e.at.timestamp() - submitted for e in job_events if e.type == "step_succeeded"]
    finished = max(e.at.timestamp() for e in job_events if e.type == "job_finished")
    return {
        "first_start_s": min(starts),
        "started_early": sum(start <= EARLY for start in starts),
        "first_done_s": min(done),
        "last_done_s": max(done),
        "finished_s": finished - submitted,
    }


def celery_wall(app: Celery, pid: int, steps: int, call: bool = True) -> tuple[float, float]:
    """Plain Celery: ``steps`` one-call tasks (or, without ``call``, tasks that wait as
    long as a call takes) sent at once, then every result fetched. The wall time, and
    the worker's CPU seconds meanwhile."""
    task, task_args = (
        (raw_celery.ASK, ["go", MODEL_SETTINGS["llm_model"]])
        if call
        else (raw_celery.WAIT, [MODEL_SECONDS])
    )
    cpu = cpu_seconds(pid)
    start = time.perf_counter()
    with app.producer_or_acquire() as producer:
        results = [app.send_task(task, args=task_args, producer=producer) for _ in range(steps)]
    for result in results:
        if result.get(timeout=JOB_TIMEOUT) != "ok":
            raise BenchmarkError(f"plain Celery task {result.id} did not get the model's answer")
    return time.perf_counter() - start, cpu_seconds(pid) - cpu


def measure(
    live: Deployment,
    raw: tuple[Celery, int],
    server: LLMServer,
    steps: int,
    concurrency: int,
    repeats: int,
) -> dict[str, Any]:
    (pid,) = live.worker_pids()
    plan = ask_plan(steps)
    walls, peaks, starts, lines, memory, theirs, floors = [], [], [], [], [], [], []
    requests_before = len(server.chat_requests)
    for _ in range(repeats):  # the two sides alternate
        with watch_worker(pid) as sampled:
            wall, handle = timed(live, plan)
        theirs.append(celery_wall(*raw, steps))
        floors.append(celery_wall(*raw, steps, call=False)[0])
        walls.append(wall)
        job_events = events(handle)
        peaks.append(max_running(job_events))
        starts.append(last_start(job_events))
        lines.append(timeline(job_events))
        memory.append(sampled)
    requests = len(server.chat_requests) - requests_before - steps * repeats
    wall = median(walls)
    celery_walls = [w for w, _ in theirs]
    target = TARGET_S.get(steps)
    peak_rss = max(m["rss_mib"] for m in memory)
    return {
        "steps": steps,
        "concurrency": concurrency,
        **wall_stats(walls),
        "ideal_s": MODEL_SECONDS,
        "efficiency": MODEL_SECONDS / wall,
        "max_running": max(peaks),
        "last_start_s": median(starts),
        **{key: median([line[key] for line in lines]) for key in lines[0]},
        "model_requests_per_step": requests / (steps * repeats),
        "celery_wall_s": median(celery_walls),
        "celery_walls_s": celery_walls,
        "celery_cpu_ms_per_task": median([c for _, c in theirs]) * 1000 / steps,
        "celery_wait_s": median(floors),
        "ratio": median([c / w for c, w in zip(celery_walls, walls, strict=True)]),
        "worker_cpu_ms_per_step": median([m["cpu_s"] for m in memory]) * 1000 / steps,
        "worker_cores": median([m["cpu_s"] / w for m, w in zip(memory, walls, strict=True)]),
        "peak_rss_mib": peak_rss,
        "hwm_mib": max(m["hwm_mib"] for m in memory),
        "peak_threads": int(max(m["threads"] for m in memory)),
        "target_s": target,
        "meets_time": None if target is None else yes_no(wall <= target),
        "meets_memory": yes_no(peak_rss < MEMORY_TARGET_MIB),
    }


def sustained(live: Deployment, jobs: int, steps: int) -> dict[str, Any]:
    """``jobs`` jobs of ``steps`` calls, one after another on the same worker process:
    whether the time a job takes and the worker's memory stay where they started."""
    (pid,) = live.worker_pids()
    walls, rss = [], []
    for _ in range(jobs):
        walls.append(timed(live, ask_plan(steps))[0])
        rss.append(kib_to_mib(status_fields(pid)["VmRSS"]))
    quarter = max(1, jobs // 4)
    return {
        "jobs": jobs,
        "steps": steps,
        "first_s": median(walls[:quarter]),
        "last_s": median(walls[-quarter:]),
        "slowest_s": max(walls),
        "rss_first_mib": rss[0],
        "rss_half_mib": rss[jobs // 2],
        "rss_last_mib": rss[-1],
        "walls_s": walls,
        "rss_mib": rss,
    }


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    sizes = QUICK if quick else FULL
    repeats = repeats or sizes.repeats
    table = Table(
        f"I/O concurrency: one job of N parallel model calls, each answered after "
        f"{MODEL_SECONDS:g} s, on ONE worker process (`celeriac worker --concurrency C`, "
        "threads pool; submit to result, median of runs)",
        [
            Column("steps", "N"),
            Column("concurrency", "C"),
            Column("runs", "runs"),
            Column("wall_s", "wall s", fixed(2), better="lower"),
            Column("wall_range_s", "min-max s"),
            Column("ideal_s", "ideal s", fixed(1)),
            Column("max_running", "max running"),
            Column("started_early", f"started by {EARLY:g} s", fixed(0)),
            Column("last_start_s", "last started s", fixed(2)),
            Column("last_done_s", "last done s", fixed(2)),
            Column("worker_cpu_ms_per_step", "worker CPU ms/step", fixed(1), better="lower"),
            Column("celery_wall_s", "plain Celery s", fixed(2)),
            Column("celery_cpu_ms_per_task", "Celery CPU ms/task", fixed(1)),
            Column("ratio", "ratio", fixed(2), better="higher"),
            Column("celery_wait_s", "Celery, waits only s", fixed(2)),
            Column("worker_cores", "worker cores", fixed(2)),
            Column("peak_rss_mib", "peak RSS MiB", fixed(0), better="lower"),
            Column("peak_threads", "threads"),
            Column("target_s", "target s", fixed(1)),
            Column("meets_time", "time ok"),
            Column("meets_memory", "memory ok"),
        ],
        key=("steps", "concurrency"),
    )
    jobs, steps = sizes.sustained
    kept = Table(
        f"Sustained: {jobs} jobs of {steps} such calls one after another on the same worker "
        f"process (--concurrency {sizes.concurrencies[0]})",
        [
            Column("jobs", "jobs"),
            Column("steps", "steps each"),
            Column("first_s", "first quarter s", fixed(2)),
            Column("last_s", "last quarter s", fixed(2), better="lower"),
            Column("slowest_s", "slowest s", fixed(2)),
            Column("rss_first_mib", "RSS after the first MiB", fixed(0)),
            Column("rss_half_mib", "after half MiB", fixed(0)),
            Column("rss_last_mib", "after the last MiB", fixed(0), better="lower"),
        ],
        key=("jobs", "steps"),
        notes=[
            "first / last quarter: the median wall time of the first and the last quarter "
            "of the jobs; RSS: the worker's VmRSS after each job (all in the JSON)",
        ],
    )
    with model_endpoint(MODEL_SECONDS) as server:
        for concurrency in sizes.concurrencies:
            args = ["--concurrency", str(concurrency)]
            with Deployment(workers=1, worker_args=args, **MODEL_SETTINGS) as live:
                assert live.sdk.settings.redis_url
                url = live.sdk.settings.redis_url
                with raw_celery.raw_workers(url, 1, concurrency) as (app, (raw_pid,)):
                    # Warm both up as a worker that has run a while is: imports, the SDK's
                    # connections, the pool's threads (made on first need).
                    warm = max(sizes.steps)
                    timed(live, ask_plan(warm))
                    celery_wall(app, raw_pid, warm)
                    for steps in sizes.steps:
                        row = measure(live, (app, raw_pid), server, steps, concurrency, repeats)
                        table.rows.append(row)
                if concurrency == sizes.concurrencies[0]:
                    kept.rows.append(sustained(live, *sizes.sustained))
    table.notes += [
        f"each step: `ask` through the openai SDK to tests/support/llm_server.py on 127.0.0.1 "
        f"(answers after {MODEL_SECONDS:g} s); llm_cache off, scoring_judge off; ideal = one "
        "call, as every step could run at once; both sides warmed up first with one run of "
        "the largest N (the pool's threads, the SDK's connections)",
        "from the job's events (Redis's clock, from job_submitted; medians): max running = "
        f"most steps running at once; started by {EARLY:g} s = steps whose step_started "
        "came that soon; last started / last done = the last step_started / step_succeeded",
        "worker CPU: the worker process's user + system CPU seconds during a run, per step; "
        "worker cores: the same over the wall time (one process's Python code runs on at "
        "most one core at a time: the GIL)",
        f"peak RSS: the worker's VmRSS sampled every {SAMPLE_EVERY * 1000:.0f} ms during the "
        "runs (its VmHWM is in the JSON); threads: the most it had",
        "plain Celery: the same N calls as tasks of one Celery worker process (threads pool, "
        "same concurrency) using the SDK's client as its docs show, sent at once, each result "
        "fetched; ratio = plain Celery's wall time / celeriac's (median of the runs' ratios); "
        f"Celery, waits only: the same tasks but each only sleeps {MODEL_SECONDS:g} s, no HTTP "
        "(what Celery alone costs at this concurrency)",
        "target (issue 8): 1,000 steps <= 3 s, 300 <= 2 s, and peak RSS < 400 MB "
        f"({MEMORY_TARGET_MIB:.0f} MiB)",
    ]
    return [table, kept]
