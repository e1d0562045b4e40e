"""Faults are events, not crashes: killed workers, lost messages."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import redis
from celery import Celery

from orchestrator import names
from orchestrator.client import Client, JobHandle
from orchestrator.embedded.deployment import Embedded
from orchestrator.embedded.redis_server import RedisServer
from orchestrator.errors import RedisUnavailable
from orchestrator.models import JobResult
from orchestrator.settings import Settings
from orchestrator.transport.celery_app import queue_lengths
from tests.integration.test_jobs import open_gate, runs
from tests.support.helpers import indexed_jobs, make_settings, wait_for
from tests.support.rabbitmq import RabbitNode, needs_rabbitmq
from tests.support.sample_agents import TEST_PREFIX

pytestmark = pytest.mark.faults


def gated_plan(gate: str) -> dict[str, Any]:
    """A step that waits for its gate to open, and one that uses its output."""
    return {
        "steps": [
            {"id": "slow", "agent": "gate", "input": {"gate": gate}},
            {"id": "after", "agent": "echo", "input": {"text": {"$from": "slow", "path": "text"}}},
        ]
    }


def stop_consuming(app: Celery, queue: str) -> None:
    """Have the worker stop taking messages from ``queue``. Celery's ``cancel_consumer``
    answers before the worker cancels (it schedules the cancel for its loop's next turn),
    so a message sent on the answer may still reach the worker: wait until it no longer
    lists the queue."""
    assert app.control.cancel_consumer(queue, reply=True, timeout=10, limit=1)

    def cancelled() -> bool:
        active = app.control.inspect(timeout=5, limit=1).active_queues() or {}
        return bool(active) and all(
            queue not in {q["name"] for q in queues} for queues in active.values()
        )

    wait_for(cancelled, what=f"the worker to stop consuming from {queue}")


def pid_of(worker: str) -> int:
    """The process of a worker named ``celeriac-PID@host``."""
    return int(worker.split("@")[0].removeprefix("celeriac-"))


def killed_mid_step(live: Settings, r: redis.Redis, gate: str) -> tuple[JobHandle, str, JobResult]:
    """Run ``gated_plan(gate)``, SIGKILL the worker of its gated step once the step started,
    open the gate; the job, the killed worker's name and the job's result."""
    with Client(live) as client:
        job = client.submit(plan=gated_plan(gate))
        started = f"{TEST_PREFIX}:started:{gate}"
        victim = wait_for(lambda: r.lindex(started, 0), what="the step to start")
        os.kill(pid_of(victim), signal.SIGKILL)
        open_gate(r, gate)
        return job, victim, job.wait(timeout=60)


def test_worker_killed_mid_step_does_not_lose_the_job(
    isolated: Callable[..., Settings], unique: Callable[[str], str], broker: dict[str, str]
) -> None:
    live = isolated(workers=2, **broker)
    assert live.redis_url
    r = redis.Redis.from_url(live.redis_url, decode_responses=True)
    gate = unique("kill")
    job, victim, result = killed_mid_step(live, r, gate)

    assert result.status == "succeeded"
    slow = result.steps["slow"]
    assert slow.attempts == 2
    assert slow.worker and slow.worker != victim
    assert result.answer == {"text": f"passed {gate}"}
    assert runs(r, job.id, "slow") == 2 and runs(r, job.id, "after") == 1
    retries = [e for e in job.events(follow=False) if e.type == "step_retrying"]
    assert len(retries) == 1 and "worker lost" in retries[0].data["error"]
    r.close()


def test_a_worker_killed_while_it_runs_a_wide_jobs_shared_messages_loses_no_step(
    isolated: Callable[..., Settings], unique: Callable[[str], str], broker: dict[str, str]
) -> None:
    # 40 ready steps go out in 14 messages, up to 3 a message (workers.batch): the worker
    # killed holds several steps of each message it took, some running and some not.
    live = isolated(workers=2, **broker)
    assert live.redis_url
    r = redis.Redis.from_url(live.redis_url, decode_responses=True)
    gate = unique("wide-kill")
    steps = [{"id": f"g{i}", "agent": "gate", "input": {"gate": gate}} for i in range(40)]
    with Client(live) as client:
        job = client.submit(plan={"steps": steps})
        started = f"{TEST_PREFIX}:started:{gate}"
        wait_for(lambda: r.llen(started) == 40, what="all 40 steps to start")
        victim, _ = Counter(r.lrange(started, 0, -1)).most_common(1)[0]
        first = {step_id: step.worker for step_id, step in job.result().steps.items()}
        os.kill(pid_of(str(victim)), signal.SIGKILL)
        open_gate(r, gate)
        result = job.wait(timeout=90)
    assert result.status == "succeeded", result.error
    lost = sorted(step_id for step_id, worker in first.items() if worker == victim)
    assert lost, "the killed worker ran none of the steps"
    for step_id, step in result.steps.items():
        again = step_id in lost
        assert (step.attempts, runs(r, job.id, step_id)) == ((2, 2) if again else (1, 1))
        assert step.worker != victim
    r.close()


def test_a_step_message_the_broker_lost_is_sent_again(
    isolated: Callable[..., Settings], broker: dict[str, str]
) -> None:
    live = isolated(workers=1, redeliver_seconds=1.0, **broker)
    queue = names.agent_queue("echo")
    with Client(live) as client:
        app = client.runtime.app
        stop_consuming(app, queue)
        job = client.submit(
            plan={"steps": [{"id": "a", "agent": "echo", "input": {"text": "again"}}]}
        )
        wait_for(lambda: queue_lengths(app, [queue])[0], what="the step message on its queue")
        with app.connection_for_write() as connection:
            channel: Any = connection.default_channel  # kombu's stubs know no queue_purge
            channel.queue_purge(queue)  # the broker loses it
        assert app.control.add_consumer(queue, reply=True, timeout=10, limit=1)

        result = job.wait(timeout=60)
    assert result.status == "succeeded"
    assert result.answer == {"text": "again"}
    assert result.steps["a"].attempts == 1


class DeadPublisher:
    """A publisher whose process dies as it publishes: nothing reaches the broker."""

    def send_steps(self, messages: object, *, together: bool = True) -> None:
        raise SystemExit("publisher died")

    def send_plan(self, job_id: str) -> None:
        raise SystemExit("publisher died")

    def send_finalize(self, job_id: str) -> None:
        raise SystemExit("publisher died")


@pytest.mark.parametrize(
    ("submitted", "owed"),
    [
        # A plan starts at once: its first steps were recorded, not published.
        ({"plan": {"steps": [{"id": "a", "agent": "echo", "input": {"text": "here"}}]}}, None),
        # A goal waits for an orchestrator worker: its plan task was recorded, not published.
        ({"goal": "How do I reset my password?"}, "plan"),
    ],
    ids=["plan", "goal"],
)
def test_a_message_lost_before_publishing_is_sent_by_the_sweeper(
    isolated: Callable[..., Settings],
    submitted: dict[str, Any],
    owed: str | None,
    broker: dict[str, str],
) -> None:
    """A client that dies between recording a job and publishing its messages."""
    live = isolated(workers=1, **broker)
    with Client(live) as client:
        client.runtime.engine.dispatcher = DeadPublisher()
        with pytest.raises(SystemExit):
            client.submit(**submitted)
        (job_id,) = indexed_jobs(client.runtime.redis)
        watched = client.runtime.redis.zscore(
            names.job_index(names.WATCH, job_id), f"plan {job_id}"
        )
        assert (watched is not None) == (owed == "plan")
        # The sweeper sends what is owed after the grace period (the lease).
        result = client.get(job_id).wait(timeout=60)
    assert result.status == "succeeded", result.error
    if "plan" in submitted:
        assert result.answer == {"text": "here"}


def serving(live: Settings, process: subprocess.Popen[bytes]) -> bool:
    """Whether ``process`` is a worker with a recent heartbeat."""
    with Client(live) as client:
        seen = client.runtime.engine.live_workers().values()
    return process.pid in {info.get("pid") for info in seen}


CHAIN = {
    "steps": [
        {"id": "a", "agent": "echo", "input": {"text": "first"}},
        {"id": "b", "agent": "echo", "input": {"text": {"$from": "a", "path": "text"}}},
    ]
}
ONE = {"steps": [{"id": "a", "agent": "echo", "input": {"text": "first"}}]}


@pytest.mark.parametrize(
    ("embedded", "crashing", "submitted", "then"),
    [
        # The plan task planned a goal and recorded its first steps; its worker died
        # before sending them.
        (
            "--no-orchestrator",
            "--no-agents",
            {"goal": "How do I reset my password?"},
            "--no-agents",
        ),
        # A step's output and its dependents were recorded; its worker died before sending them.
        ("--no-agents", "--no-orchestrator", {"plan": CHAIN}, "--no-orchestrator"),
        # The job's last step was recorded; its worker died before finalizing the job.
        ("--no-agents", "--no-orchestrator", {"plan": ONE}, None),
    ],
    ids=["after-planning-a-goal", "after-finishing-a-step", "after-the-last-step"],
)
def test_a_worker_killed_between_recording_and_publishing_is_covered_by_the_sweeper(
    isolated: Callable[..., Settings],
    spawn: Callable[..., subprocess.Popen[bytes]],
    embedded: str,
    crashing: str,
    submitted: dict[str, Any],
    then: str | None,
    broker: dict[str, str],
) -> None:
    """SIGKILL at the worst moment: a change is in Redis, its messages are not on the broker."""
    live = isolated(workers=1, worker_args=[embedded], **broker)
    assert live.redis_url
    r = redis.Redis.from_url(live.redis_url, decode_responses=True)
    doomed = spawn(
        live, "worker", crashing, "--loglevel", "WARNING", module="tests.support.crash_points"
    )
    wait_for(lambda: serving(live, doomed), what="the doomed worker to start")
    with Client(live) as client:
        job = client.submit(**submitted)
        wait_for(lambda: doomed.poll() == -signal.SIGKILL, what="the worker to kill itself")
        if then is not None:  # someone to do the work the dead worker would have done
            spawn(live, "worker", then, "--loglevel", "WARNING")
        result = job.wait(timeout=60)
        events = list(job.events(follow=False))
    assert result.status == "succeeded", result.error
    started = Counter(e.step_id for e in events if e.type == "step_started")
    assert started == dict.fromkeys(result.steps, 1)  # nothing was redone
    assert all(step.attempts == 1 for step in result.steps.values())
    assert not [e for e in events if e.type == "step_retrying"]
    if "plan" in submitted:
        assert result.answer == {"text": "first"}
        assert all(runs(r, job.id, step_id) == 1 for step_id in result.steps)
    r.close()


def test_a_waiting_client_rides_out_redis_down_only_as_long_as_allowed(
    unique: Callable[[str], str],
) -> None:
    gate = unique("outage")
    with RedisServer(appendonly=True) as server:
        settings = make_settings(server.url, embedded_workers=1, redis_outage_seconds=1.0)
        with Embedded(settings) as live, Client(live) as client:
            r = redis.Redis.from_url(server.url, decode_responses=True)
            job = client.submit(plan=gated_plan(gate))
            wait_for(lambda: r.llen(f"{TEST_PREFIX}:started:{gate}"), what="the step to start")
            assert server.process is not None
            server.process.kill()  # down for longer than the client may wait it out
            server.process.wait(timeout=5)
            with pytest.raises(RedisUnavailable, match=f"^cannot reach Redis at {server.url}: "):
                job.wait(timeout=60)
            server.restart()  # back, with what it had: the job goes on
            open_gate(r, gate)
            result = job.wait(timeout=60)
            r.close()
    assert result.status == "succeeded", result.error


def test_a_redis_restart_mid_job_loses_nothing(
    unique: Callable[[str], str],
) -> None:
    gate = unique("restart")
    with RedisServer(appendonly=True) as server:
        settings = make_settings(server.url, embedded_workers=1)
        with Embedded(settings) as live, Client(live) as client:
            r = redis.Redis.from_url(server.url, decode_responses=True)
            job = client.submit(plan=gated_plan(gate))
            wait_for(lambda: r.llen(f"{TEST_PREFIX}:started:{gate}"), what="the step to start")
            server.restart()  # queued work and job state come back from the append-only file
            open_gate(r, gate)
            result = job.wait(timeout=60)
            r.close()
    assert result.status == "succeeded", result.error
    assert result.answer == {"text": f"passed {gate}"}


@needs_rabbitmq
def test_a_rabbitmq_restart_mid_job_loses_nothing(
    isolated: Callable[..., Settings], unique: Callable[[str], str], rabbitmq: RabbitNode
) -> None:
    """The session's RabbitMQ node, restarted while a step runs and its dependent waits."""
    gate = unique("rabbit")
    url = rabbitmq.vhost()
    live = isolated(workers=1, broker_url=url)
    assert live.redis_url
    with redis.Redis.from_url(live.redis_url, decode_responses=True) as r, Client(live) as client:
        job = client.submit(plan=gated_plan(gate))
        wait_for(lambda: r.llen(f"{TEST_PREFIX}:started:{gate}"), what="the step to start")
        rabbitmq.restart()  # durable quorum queues and persistent messages come back
        open_gate(r, gate)
        result = job.wait(timeout=90)
        assert runs(r, job.id, "slow") == 1 and runs(r, job.id, "after") == 1
    rabbitmq.drop(url)
    assert result.status == "succeeded", result.error
    assert result.answer == {"text": f"passed {gate}"}


@needs_rabbitmq
def test_a_worker_back_on_rabbitmq_has_the_next_sweep_resend_unclaimed_messages(
    isolated: Callable[..., Settings], rabbitmq: RabbitNode
) -> None:
    """What was published while the broker was away may be lost: a worker whose consumer
    reconnects says so in the store, for the next sweep (here there is no sweeper)."""
    url = rabbitmq.vhost()
    live = isolated(workers=1, worker_args=["--no-orchestrator"], broker_url=url)
    assert live.redis_url
    with redis.Redis.from_url(live.redis_url, decode_responses=True) as r:
        assert not r.exists(names.RECONNECTED_KEY)  # its first connection is no return
        rabbitmq.restart()
        wait_for(lambda: r.exists(names.RECONNECTED_KEY), timeout=60, what="the worker's word")
    rabbitmq.drop(url)


def test_a_poison_step_stops_after_its_attempts_and_is_kept_as_a_dead_letter(
    isolated: Callable[..., Settings],
) -> None:
    # prefork: the step kills the pool's child process, and the worker starts another.
    live = isolated(workers=1, worker_args=["--pool", "prefork", "--concurrency", "2"])
    plan = {
        "steps": [
            {"id": "ok", "agent": "echo", "input": {"text": "fine"}},
            {"id": "bad", "agent": "poison", "input": {"text": "x"}},
            {"id": "after", "agent": "echo", "input": {"text": "never"}, "depends_on": ["bad"]},
        ]
    }
    with Client(live) as client:
        result = client.submit(plan=plan).wait(timeout=90)
        letters = client.dead_letters()
    assert result.status == "partial"  # the answer is both sinks; one of them failed
    bad = result.steps["bad"]
    assert bad.status == "failed" and bad.attempts == live.step_max_attempts
    assert bad.error is not None and "its worker died every time" in bad.error
    assert result.steps["after"].status == "skipped"
    assert result.steps["ok"].status == "succeeded"
    assert live.redis_url
    with redis.Redis.from_url(live.redis_url, decode_responses=True) as r:
        ran = int(r.get(f"{TEST_PREFIX}:runs:{result.job_id}:bad") or 0)
    assert ran == live.step_max_attempts  # it ran no more often than allowed
    (letter,) = [d for d in letters if d.job_id == result.job_id]
    assert (letter.step_id, letter.agent, letter.attempts) == ("bad", "poison", bad.attempts)
    assert letter.error == bad.error


def test_a_warm_shutdown_lets_the_running_step_finish(
    isolated: Callable[..., Settings], unique: Callable[[str], str], broker: dict[str, str]
) -> None:
    live = isolated(workers=2, **broker)
    assert live.redis_url
    r = redis.Redis.from_url(live.redis_url, decode_responses=True)
    gate = unique("term")
    with Client(live) as client:
        job = client.submit(plan=gated_plan(gate))
        started = f"{TEST_PREFIX}:started:{gate}"
        busy = wait_for(lambda: r.lindex(started, 0), what="the step to start")
        pid = pid_of(busy)
        os.kill(pid, signal.SIGTERM)  # warm shutdown: finish what is running, take no more
        # A signal reaches a process when one of its threads next runs, not at kill(): on a
        # busy machine the step could end, and run the next, before the worker has it.
        wait_for(lambda: _taken(pid, signal.SIGTERM), what="the worker to take the SIGTERM")
        open_gate(r, gate)
        result = job.wait(timeout=60)
        wait_for(lambda: not _alive(pid), what="the worker to exit once its step is done")
    assert result.status == "succeeded"
    slow, after = result.steps["slow"], result.steps["after"]
    assert slow.attempts == 1 and slow.worker == busy  # finished where it ran, not redone
    assert after.worker and after.worker != busy  # the next step went to the other worker
    assert runs(r, job.id, "slow") == 1
    r.close()


def _taken(pid: int, sig: int) -> bool:
    """Whether ``sig`` sent to ``pid`` has left the process's pending set (a thread of it
    has run its handler), from /proc/PID/status's ShdPnd mask."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    return not int(fields["ShdPnd"].strip(), 16) & (1 << (sig - 1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that has exited stays a zombie until its parent reaps it.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"
