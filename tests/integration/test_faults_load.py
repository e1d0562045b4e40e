"""Faults under load: workers killed again and again, Redis killed, many clients at once."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import redis

from orchestrator.client import Client, JobHandle
from orchestrator.embedded import Embedded
from orchestrator.errors import JobTimeout
from orchestrator.models import JobResult
from orchestrator.redis_server import RedisServer
from orchestrator.settings import Settings
from tests.conftest import make_settings, wait_for
from tests.integration.test_faults import serving
from tests.integration.test_jobs import runs
from tests.sample_agents import TEST_PREFIX

pytestmark = pytest.mark.faults


def diamond(tag: str, seconds: float) -> dict[str, Any]:
    """a, then b and c at once, then d; every step sleeps like a model call."""
    work = {"seconds": seconds, "tag": tag}
    return {
        "steps": [
            {"id": "a", "agent": "sleep", "input": work},
            {"id": "b", "agent": "sleep", "input": work, "depends_on": ["a"]},
            {"id": "c", "agent": "sleep", "input": work, "depends_on": ["a"]},
            {"id": "d", "agent": "sleep", "input": work, "depends_on": ["b", "c"]},
        ]
    }


def wait_all(client: Client, jobs: list[JobHandle], timeout: float) -> list[JobResult]:
    """Every job's result; on a timeout, fail saying where the first unfinished job is."""
    deadline = time.monotonic() + timeout
    try:
        return [job.wait(timeout=max(0.0, deadline - time.monotonic())) for job in jobs]
    except JobTimeout as exc:
        stuck = client.get(exc.job_id)
        steps = {s: (step.status, step.attempts) for s, step in stuck.result().steps.items()}
        history = [(e.type, e.step_id, e.at.time(), e.data) for e in stuck.events(follow=False)]
        raise AssertionError(f"{exc}: steps {steps}; events {history}") from None


def reaches(r: redis.Redis, key: str, length: int) -> Callable[[], bool]:
    """A condition: the list at ``key`` has ``length`` entries or more."""
    return lambda: int(r.llen(key)) >= length


def pid_of(worker: str) -> int:
    """The process of a worker named ``celeriac-PID@host``."""
    return int(worker.split("@")[0].removeprefix("celeriac-"))


def test_workers_killed_again_and_again_under_load_lose_nothing(
    isolated: Callable[..., Settings],
    spawn: Callable[..., subprocess.Popen[bytes]],
    unique: Callable[[str], str],
) -> None:
    """100 jobs run while the worker running the latest step is SIGKILLed, four times."""
    kills = 4
    # An orchestrator worker no one kills; agent workers that are killed and replaced.
    live = isolated(workers=1, worker_args=["--no-agents"], step_max_attempts=kills + 2)
    assert live.redis_url
    r = redis.Redis.from_url(live.redis_url, decode_responses=True)
    tag = unique("storm")
    started = f"{TEST_PREFIX}:started:{tag}"

    def agent_worker() -> subprocess.Popen[bytes]:
        process = spawn(live, "worker", "--no-orchestrator", "--loglevel", "WARNING")
        wait_for(lambda: serving(live, process), what="an agent worker to start")
        return process

    workers = {process.pid: process for process in (agent_worker(), agent_worker())}
    killed_at: list[float] = []
    with Client(live) as client:
        jobs = [client.submit(plan=diamond(tag, 0.3)) for _ in range(100)]
        for round in range(1, kills + 1):
            # Kill whoever started a step last, once the run has moved on since the last kill.
            wait_for(reaches(r, started, 60 * round), timeout=60, what="steps to start")
            latest = [pid_of(str(worker)) for worker in reversed(r.lrange(started, 0, -1))]
            victim = workers.pop(next(pid for pid in latest if pid in workers))
            victim.kill()
            killed_at.append(time.time())
            victim.wait(timeout=10)
            replacement = agent_worker()
            workers[replacement.pid] = replacement
        results = wait_all(client, jobs, timeout=90)
        events = {job.id: list(job.events(follow=False)) for job in jobs}

    assert [result.status for result in results] == ["succeeded"] * len(jobs)
    retried = 0
    recoveries = []
    for job, result in zip(jobs, results, strict=True):
        succeeded = Counter(e.step_id for e in events[job.id] if e.type == "step_succeeded")
        assert succeeded == dict.fromkeys("abcd", 1)  # each step's result written once
        for step_id, step in result.steps.items():
            # A run for each attempt, less those killed before the agent began.
            assert 1 <= runs(r, job.id, step_id) <= step.attempts
            retried += step.attempts - 1
        for event in events[job.id]:
            if event.type == "step_retrying":
                assert "worker lost" in event.data["error"]
            if event.type == "step_started" and event.data["attempt"] > 1:
                at = event.at.timestamp()  # running again, so long after the kill
                recoveries.append(at - max(k for k in killed_at if k <= at))

    assert retried >= kills  # each kill caught at least one step mid-run
    # The sweeper requeues a dead worker's steps within about two lease periods.
    print(f"steps run again: {retried}; slowest back {max(recoveries):.2f}s after a kill")
    assert max(recoveries) < 2 * live.step_lease_seconds + 2.0
    r.close()


def test_redis_killed_and_restarted_three_times_leaves_no_job_running(
    unique: Callable[[str], str],
) -> None:
    """SIGKILL of Redis mid-run, three times: no job is left running for ever.

    Redis fsyncs its append-only file every second (as in docker-compose.yml), so a kill
    loses up to the last second of writes; whatever that undid, jobs must still end.
    """
    tag = unique("crash")
    started = f"{TEST_PREFIX}:started:{tag}"
    with RedisServer(appendonly=True) as server:
        settings = make_settings(server.url, embedded_workers=2)
        with Embedded(settings) as live, Client(live) as client:
            r = redis.Redis.from_url(server.url, decode_responses=True)
            jobs = [client.submit(plan=diamond(tag, 0.3)) for _ in range(20)]
            for _ in range(3):
                wait_for(reaches(r, started, int(r.llen(started)) + 10), what="steps to start")
                server.restart(kill=True)
            results = wait_all(client, jobs, timeout=90)
            r.close()
    statuses = Counter(result.status for result in results)
    print(f"after three Redis crashes: {dict(statuses)}")
    for result in results:
        assert result.done
        assert result.status == "succeeded" or result.error  # a failure says why
