"""Faults under load: workers killed again and again, Redis killed, many clients at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import pytest
import redis

from orchestrator.client import Client, JobHandle
from orchestrator.embedded.deployment import Embedded, settings_env
from orchestrator.embedded.procs import stop_process
from orchestrator.embedded.redis_server import RedisServer
from orchestrator.errors import JobTimeout
from orchestrator.models import TERMINAL_JOB, JobResult
from orchestrator.settings import Settings
from tests.integration.test_faults import pid_of, serving
from tests.integration.test_jobs import runs
from tests.support.helpers import ROOT, indexed_jobs, make_settings, wait_for
from tests.support.sample_agents import TEST_PREFIX

pytestmark = pytest.mark.faults
# What a loaded 2-core machine may add to a recovery beyond the sweeper's requeue: a worker
# taking the message and starting the step while others compete for the CPU.
LOADED_MARGIN_SECONDS = 10.0


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


def last_busy(r: redis.Redis, started: str, alive: Mapping[int, object]) -> int | None:
    """The process among ``alive`` that started a step last, if any has started one."""
    latest = (pid_of(str(worker)) for worker in reversed(r.lrange(started, 0, -1)))
    return next((pid for pid in latest if pid in alive), None)


def test_workers_killed_again_and_again_under_load_lose_nothing(
    isolated: Callable[..., Settings],
    spawn: Callable[..., subprocess.Popen[bytes]],
    unique: Callable[[str], str],
    measured: Callable[[str], None],
) -> None:
    """100 jobs run while the worker running the latest step is SIGKILLed, four times."""
    kills = 4
    # An orchestrator worker no one kills; agent workers that are killed and replaced.
    live = isolated(workers=1, worker_args=["--no-agents"], step_max_attempts=kills + 2)
    assert live.redis_url
    r = redis.Redis.from_url(live.redis_url, decode_responses=True)
    tag = unique("storm")

    def agent_worker() -> subprocess.Popen[bytes]:
        process = spawn(live, "worker", "--no-orchestrator", "--loglevel", "WARNING")
        wait_for(lambda: serving(live, process), what="an agent worker to start")
        return process

    workers = {process.pid: process for process in (agent_worker(), agent_worker())}
    killed_at: list[float] = []
    jobs: list[JobHandle] = []
    with Client(live) as client:
        for wave in range(kills):
            # A wave of 25 jobs for each kill, sent once two workers serve: its kill comes
            # while its steps run. With all 100 sent at once, a replacement that took long
            # to start on a loaded machine found the run over, and no live worker to kill.
            wave_tag = f"{tag}-{wave}"
            jobs += [client.submit(plan=diamond(wave_tag, 0.3)) for _ in range(25)]
            started = f"{TEST_PREFIX}:started:{wave_tag}"
            wait_for(reaches(r, started, 30), timeout=60, what=f"wave {wave}'s steps to start")
            # Whoever started a step last: every step of the wave ran on a live worker.
            busy = wait_for(partial(last_busy, r, started, workers), what="a live worker's step")
            victim = workers.pop(busy)
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
    # A dead worker's lease runs out within a lease of its last renewal, and the sweeper
    # looks every sweep interval: by then the step is queued again. Picking it up and
    # starting it is what a loaded machine stretches (6.7 s seen on a busy 2-core one), so
    # the bound only tells the sweeper's requeue from the outbox's redelivery; the figure
    # itself is reported.
    requeued_by = live.step_lease_seconds + live.sweep_interval_seconds
    assert requeued_by + LOADED_MARGIN_SECONDS < live.redeliver_seconds
    slowest = max(recoveries)
    measured(
        f"workers killed again and again under load: {retried} steps ran again; the slowest "
        f"started {slowest:.2f} s after its kill (lease {live.step_lease_seconds} s, "
        f"sweep every {live.sweep_interval_seconds} s)"
    )
    assert slowest < requeued_by + LOADED_MARGIN_SECONDS
    r.close()


def test_redis_killed_and_restarted_three_times_leaves_no_job_running(
    unique: Callable[[str], str],
) -> None:
    """SIGKILL of Redis mid-run, three times: no job is left running for ever.

    Redis (append-only, as in docker-compose.yml) keeps what it acknowledged, but replies
    on their way are lost with it, messages being handed to workers among them.
    """
    tag = unique("crash")
    started = f"{TEST_PREFIX}:started:{tag}"
    with RedisServer(appendonly=True) as server:
        settings = make_settings(server.url, embedded_workers=2)
        with Embedded(settings) as live, Client(live) as client:
            r = redis.Redis.from_url(server.url, decode_responses=True)
            jobs = [client.submit(plan=diamond(tag, 0.3)) for _ in range(30)]
            every_step = 4 * len(jobs)
            for _ in range(3):
                # Ten more starts, or all there are: quick workers may be nearly done.
                more = min(int(r.llen(started)) + 10, every_step)
                wait_for(reaches(r, started, more), what="steps to start")
                server.restart(kill=True)
            results = wait_all(client, jobs, timeout=90)
            r.close()
    statuses = Counter(result.status for result in results)
    print(f"after three Redis crashes: {dict(statuses)}")
    for result in results:
        assert result.done
        assert result.status == "succeeded" or result.error  # a failure says why


FAIL_EVERY = 25  # every 25th job of the load has a step that fails for good


def load_plan(tag: str, index: int) -> dict[str, Any]:
    """The load's ``index``-th job: a diamond of quick steps, or one whose b fails."""
    plan = diamond(tag, 0.05)
    if index % FAIL_EVERY == 0:
        plan["steps"][1] = {
            **plan["steps"][1],
            "agent": "fail",
            "input": {"message": f"planned failure {index}"},
        }
    return plan


def submit_share(tag: str, first: str, count: str) -> None:
    """One client process: wait for the go of ``tag``, submit jobs ``first`` to
    ``first + count - 1`` of the load, print their ids as JSON."""
    with Client() as client:
        r = redis.Redis.from_url(client.url, decode_responses=True)
        r.incr(f"{TEST_PREFIX}:ready:{tag}")
        deadline = time.monotonic() + 60
        while not r.blpop([f"{TEST_PREFIX}:go:{tag}"], timeout=1):
            if time.monotonic() > deadline:
                raise SystemExit(f"no go for {tag} within 60s")
        start = int(first)
        jobs = [client.submit(plan=load_plan(tag, i)) for i in range(start, start + int(count))]
        r.close()
    print(json.dumps([job.id for job in jobs]))


@pytest.mark.timeout(300)
def test_500_jobs_from_four_client_processes_all_end_and_add_up(
    isolated: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    """Four client processes submit 125 jobs each at the same moment; 20 of the 500
    have a step that fails for good. Every job ends, and the counts add up."""
    clients, share = 4, 125
    live = isolated(workers=2)
    assert live.redis_url
    r = redis.Redis.from_url(live.redis_url, decode_responses=True)
    tag = unique("load")
    code = "import sys; from tests.integration.test_faults_load import submit_share; "
    code += "submit_share(*sys.argv[1:])"
    processes: list[subprocess.Popen[bytes]] = []
    ids: list[str] = []
    try:
        for n in range(clients):
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", code, tag, str(n * share), str(share)],
                    cwd=ROOT,
                    env={**os.environ, **settings_env(live)},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            )
        ready = f"{TEST_PREFIX}:ready:{tag}"
        wait_for(lambda: int(r.get(ready) or 0) == clients, timeout=60, what="clients ready")
        began = time.monotonic()
        r.rpush(f"{TEST_PREFIX}:go:{tag}", *["go"] * clients)
        for process in processes:  # in order: the ids of jobs 0, 1, 2, ... of the load
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err.decode()
            ids += json.loads(out)
        submitted = time.monotonic() - began
    finally:
        for process in processes:
            stop_process(process)

    assert len(ids) == len(set(ids)) == clients * share
    failing = {job_id for i, job_id in enumerate(ids) if i % FAIL_EVERY == 0}
    with Client(live) as client:
        results = wait_all(client, [client.get(job_id) for job_id in ids], timeout=240)
        finished = time.monotonic() - began
        events = {job_id: list(client.get(job_id).events(follow=False)) for job_id in ids}
        letters = [d for d in client.dead_letters(count=10 * len(ids)) if d.job_id in events]

    assert all(result.status in TERMINAL_JOB - {"cancelled"} for result in results)
    statuses = Counter(result.status for result in results)
    assert statuses == {"succeeded": len(ids) - len(failing), "failed": len(failing)}
    for result in results:
        ran = {step: runs(r, result.job_id, step) for step in "abcd"}
        if result.job_id in failing:  # b failed at once, so d never ran
            assert result.status == "failed"
            assert result.error and result.error.startswith("step 'b' failed: planned failure")
            assert ran == {"a": 1, "b": 1, "c": 1, "d": 0}
        else:
            assert result.status == "succeeded", result.model_dump()
            assert ran == dict.fromkeys("abcd", 1)
    # One dead letter per failing job, for its failed step; none for the others.
    assert sorted((d.job_id, d.step_id, d.attempts) for d in letters) == sorted(
        (job_id, "b", 1) for job_id in failing
    )
    finishes = [sum(e.type == "job_finished" for e in history) for history in events.values()]
    assert finishes == [1] * len(ids)  # 500 job_finished events, one a job
    created = indexed_jobs(r)
    assert created.keys() == set(ids)  # the jobs index holds this run's jobs, no more
    # The clients submitted at the same time: each began before any other had ended.
    spans = [
        [created[job_id] for job_id in ids[n * share : (n + 1) * share]] for n in range(clients)
    ]
    assert max(min(span) for span in spans) < min(max(span) for span in spans)
    print(
        f"submitted {len(ids)} (clients done after {submitted:.1f}s); "
        f"succeeded {statuses['succeeded']}; "
        f"failed or partial {statuses['failed'] + statuses['partial']}; "
        f"dead letters {len(letters)}; all ended after {finished:.1f}s"
    )
    r.close()
