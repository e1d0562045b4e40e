"""Worker memory: RSS of one worker process, idle and while running 300 sleep steps.

RSS is read from ``/proc/PID/status`` (VmRSS; VmHWM is the kernel's peak since
the process started) of the worker process and any children it has. With the
threads pool there are none: one process runs every step.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.deployment import JOB_TIMEOUT, BenchmarkError, Deployment, check, events
from benchmarks.deployment import max_running as replay_max_running
from benchmarks.report import Column, Table, fixed
from orchestrator.models import TERMINAL_JOB

SAMPLE_EVERY = 0.02  # seconds
IDLE_WINDOW = 3.0  # seconds over which an idle worker's CPU use is measured


@dataclass(frozen=True)
class Sizes:
    concurrency: int
    sleep_seconds: float


FULL = Sizes(concurrency=300, sleep_seconds=3.0)
QUICK = Sizes(concurrency=50, sleep_seconds=1.0)


def status_fields(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc/PID/task/*/children."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def snapshot(pid: int) -> dict[str, Any]:
    """RSS, peak RSS (both MiB), threads and processes of ``pid``'s tree."""
    rss = hwm = 0.0
    threads = 0
    pids = process_tree(pid)
    for member in pids:
        fields = status_fields(member)
        rss += int(fields["VmRSS"].split()[0]) / 1024
        hwm += int(fields["VmHWM"].split()[0]) / 1024
        threads += int(fields["Threads"])
    return {"rss_mib": rss, "hwm_mib": hwm, "threads": threads, "processes": len(pids)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid``'s tree (/proc/PID/stat)."""
    total = 0
    for member in process_tree(pid):
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def idle_cpu_percent(pid: int, seconds: float) -> float:
    """How busy an idle worker is (heartbeat, sweeper, broker polling), in % of one core."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / seconds


def under_load(live: Deployment, pid: int, sizes: Sizes) -> dict[str, Any]:
    """Run ``concurrency`` sleep steps at once, sampling RSS until the job ends."""
    plan = {
        "steps": [
            {"id": f"s{i}", "agent": "sleep", "input": {"seconds": sizes.sleep_seconds}}
            for i in range(sizes.concurrency)
        ]
    }
    handle = live.submit(plan)
    peak: dict[str, Any] = snapshot(pid)
    deadline = time.monotonic() + JOB_TIMEOUT
    while handle.status() not in TERMINAL_JOB:
        if time.monotonic() > deadline:
            raise BenchmarkError(f"job {handle.id} did not end within {JOB_TIMEOUT:g}s")
        current = snapshot(pid)
        if current["rss_mib"] > peak["rss_mib"]:
            peak = current
        time.sleep(SAMPLE_EVERY)
    check(handle.result())
    peak["max_running"] = replay_max_running(events(handle))
    return peak


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    """``repeats`` is not used: one deployment, sampled every 20 ms."""
    sizes = QUICK if quick else FULL
    args = ["--concurrency", str(sizes.concurrency), "--pool", "threads"]
    table = Table(
        f"Worker memory: ONE worker process (`celeriac worker {' '.join(args)}`)",
        [
            Column("state", "state", left=True),
            Column("rss_mib", "RSS MiB", fixed(1), better="lower"),
            Column("hwm_mib", "peak RSS so far MiB", fixed(1)),
            Column("threads", "threads"),
            Column("processes", "processes"),
            Column("max_running", "steps running"),
            Column("cpu_pct", "CPU % of a core"),
        ],
        key=("state",),
    )
    with Deployment(workers=1, worker_args=args) as live:
        (pid,) = live.worker_pids()
        time.sleep(1.0)  # let start-up settle: heartbeat, sweeper, first connections
        rows = [{"state": "idle, just started", **snapshot(pid)}]
        live.run({"steps": [{"id": "a", "agent": "noop", "input": {"text": "x"}}]})
        cpu = idle_cpu_percent(pid, IDLE_WINDOW)
        rows.append({"state": "idle, after one job", **snapshot(pid), "cpu_pct": round(cpu, 1)})
        rows.append(
            {
                "state": f"running {sizes.concurrency} x {sizes.sleep_seconds:g} s sleep (peak)",
                **under_load(live, pid, sizes),
            }
        )
        rows.append({"state": "idle again, after them", **snapshot(pid)})
    table.rows += rows
    table.notes += [
        f"RSS sampled every {SAMPLE_EVERY * 1000:.0f} ms while the job ran; "
        "steps running = most at once, replayed from the job's events; "
        f"CPU % measured over {IDLE_WINDOW:g} s of idleness",
    ]
    return [table]
