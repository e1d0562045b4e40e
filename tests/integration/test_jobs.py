"""Whole jobs on real worker processes and a real Redis: the one the session shares, and a
Redis Cluster (three primaries, three replicas) as the store, with its own Redis broker."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from orchestrator import names
from orchestrator.client import Client
from orchestrator.errors import JobNotFound, JobTimeout
from orchestrator.models import JobResult
from orchestrator.settings import Settings
from orchestrator.store.connection import connect
from orchestrator.store.records import StepMessage
from tests.support.helpers import wait_for
from tests.support.redis_cluster import needs_cluster
from tests.support.sample_agents import TEST_PREFIX


@pytest.fixture(scope="module", params=["redis", pytest.param("cluster", marks=needs_cluster)])
def layout(request: pytest.FixtureRequest) -> Settings:
    """Each store layout in turn: one Redis, or a Redis Cluster."""
    name = "deployment" if request.param == "redis" else "cluster_deployment"
    live: Settings = request.getfixturevalue(name)
    return live


@pytest.fixture
def client(layout: Settings) -> Iterator[Client]:
    with Client(layout) as c:
        yield c


@pytest.fixture
def redis_client(layout: Settings) -> Iterator[redis.Redis]:
    """The store's client (a cluster client on the cluster)."""
    assert layout.redis_url
    r = connect(layout.redis_url)
    yield r
    r.close()


@pytest.fixture
def broker_client(layout: Settings) -> Iterator[redis.Redis]:
    """The broker's Redis: the store's own, or the one beside the cluster."""
    r = redis.Redis.from_url(layout.broker, decode_responses=True)
    yield r
    r.close()


def runs(r: redis.Redis, job_id: str, step_id: str) -> int:
    return int(r.get(f"{TEST_PREFIX}:runs:{job_id}:{step_id}") or 0)


def open_gate(r: redis.Redis, gate: str) -> None:
    r.set(f"{TEST_PREFIX}:open:{gate}", 1)
    r.rpush(f"{TEST_PREFIX}:wake:{gate}", *["x"] * 8)


def test_diamond_runs_middle_steps_at_the_same_time(
    client: Client, redis_client: redis.Redis, unique: Callable[[str], str]
) -> None:
    barrier = unique("diamond")
    plan: dict[str, Any] = {
        "steps": [
            {"id": "a", "agent": "echo", "input": {"text": "hello"}},
            # b and c only pass the barrier when both are running at once.
            {
                "id": "b",
                "agent": "barrier",
                "input": {"name": barrier, "parties": 2, "timeout": 20},
                "depends_on": ["a"],
            },
            {
                "id": "c",
                "agent": "barrier",
                "input": {"name": barrier, "parties": 2, "timeout": 20},
                "depends_on": ["a"],
            },
            {
                "id": "d",
                "agent": "concat",
                "input": {
                    "parts": [
                        {"$from": "a", "path": "text"},
                        {"$from": "b", "path": "text"},
                        {"$from": "c", "path": "text"},
                    ]
                },
            },
        ],
        "answer_from": "d",
    }
    job = client.submit(plan=plan)
    result = job.wait(timeout=60)

    assert result.status == "succeeded", result.model_dump()
    assert result.answer == {"text": "hello b passed with 2 c passed with 2"}
    b, c, a, d = (result.steps[s] for s in "bcad")
    assert b.started_at and c.started_at and b.finished_at and c.finished_at
    assert b.started_at < c.finished_at and c.started_at < b.finished_at  # overlapped
    assert a.finished_at and d.started_at
    assert a.finished_at <= b.started_at and max(b.finished_at, c.finished_at) <= d.started_at
    assert all(step.attempts == 1 and step.worker for step in result.steps.values())
    # Every message was claimed: nothing is left for the sweeper to send again.
    assert not [
        m for m in redis_client.zrange(names.job_index(names.OUTBOX, job.id), 0, -1) if job.id in m
    ]


def test_failed_step_skips_its_dependents_and_job_is_partial(client: Client) -> None:
    plan = {
        "steps": [
            {"id": "ok", "agent": "echo", "input": {"text": "fine"}},
            {"id": "bad", "agent": "fail", "input": {"message": "disk on fire"}},
            {
                "id": "after_bad",
                "agent": "echo",
                "input": {"text": {"$from": "bad", "path": "text"}},
            },
            {
                "id": "after_that",
                "agent": "echo",
                "input": {"text": "x"},
                "depends_on": ["after_bad"],
            },
        ],
        "answer_from": "ok",
    }
    result = client.submit(plan=plan).wait(timeout=60)

    assert result.status == "partial"
    assert result.answer == {"text": "fine"}
    assert result.steps["bad"].status == "failed"
    assert result.steps["bad"].error == "disk on fire"
    assert result.steps["bad"].attempts == 1  # permanent: no retry
    assert result.steps["after_bad"].status == "skipped"
    assert result.steps["after_that"].status == "skipped"
    assert result.steps["after_that"].error == "not run: step bad failed"
    assert result.error and "disk on fire" in result.error


def test_job_fails_when_its_answer_step_fails(client: Client) -> None:
    plan = {"steps": [{"id": "bad", "agent": "fail", "input": {}}], "answer_from": "bad"}
    result = client.submit(plan=plan).wait(timeout=60)
    assert result.status == "failed"
    assert result.answer is None


def test_transient_failures_are_retried_with_backoff(client: Client) -> None:
    plan = {"steps": [{"id": "flaky", "agent": "fail", "input": {"transient_times": 2}}]}
    result = client.submit(plan=plan).wait(timeout=60)
    assert result.status == "succeeded"
    assert result.steps["flaky"].attempts == 3
    assert result.answer == {"text": "ok after 3 attempts"}


def test_transient_failures_stop_after_max_attempts(client: Client) -> None:
    plan = {"steps": [{"id": "flaky", "agent": "fail", "input": {"transient_times": 9}}]}
    result = client.submit(plan=plan).wait(timeout=60)
    assert result.status == "failed"
    assert result.steps["flaky"].attempts == 3  # the settings' step_max_attempts


def test_events_tell_the_story_in_order(client: Client) -> None:
    plan = {
        "steps": [
            {"id": "a", "agent": "echo", "input": {"text": "1"}},
            {"id": "b", "agent": "echo", "input": {"text": "2"}, "depends_on": ["a"]},
        ]
    }
    job = client.submit(plan=plan)
    kinds = [(e.type, e.step_id) for e in job.events()]
    assert kinds[0] == ("job_submitted", None)
    assert kinds[-1] == ("job_finished", None)
    for step in "ab":
        mine = [kind for kind, step_id in kinds if step_id == step]
        assert mine == ["step_queued", "step_started", "step_progress", "step_succeeded"]
    assert kinds.index(("step_succeeded", "a")) < kinds.index(("step_queued", "b"))


@pytest.mark.faults
def test_cancel_stops_further_dispatch(
    client: Client, redis_client: redis.Redis, unique: Callable[[str], str]
) -> None:
    gate = unique("cancel")
    plan = {
        "steps": [
            {"id": "first", "agent": "gate", "input": {"gate": gate}},
            {"id": "second", "agent": "echo", "input": {"text": "never"}, "depends_on": ["first"]},
        ]
    }
    job = client.submit(plan=plan)
    wait_for(lambda: redis_client.llen(f"{TEST_PREFIX}:started:{gate}"), what="first step")

    assert job.cancel() == "cancelled"
    open_gate(redis_client, gate)
    wait_for(lambda: job.result().steps["first"].status == "succeeded", what="first to end")

    result = job.result()
    assert result.status == "cancelled"
    assert result.steps["second"].status == "cancelled"
    assert runs(redis_client, job.id, "second") == 0
    assert [e.type for e in job.events(follow=False)].count("step_queued") == 1


@pytest.mark.faults
def test_cancel_stops_a_running_step_that_looks_for_it(
    client: Client, redis_client: redis.Redis, unique: Callable[[str], str], layout: Settings
) -> None:
    name = unique("patient")
    job = client.submit(
        plan={"steps": [{"id": "wait", "agent": "patient", "input": {"text": name}}]}
    )
    wait_for(lambda: redis_client.llen(f"{TEST_PREFIX}:started:{name}"), what="the step to start")
    cancelled_at = time.monotonic()
    assert job.cancel() == "cancelled"
    wait_for(
        lambda: job.result().steps["wait"].status == "cancelled",
        timeout=2 * layout.step_lease_seconds,  # learnt within a third of a lease
        what="the running step to stop",
    )
    assert time.monotonic() - cancelled_at < 2 * layout.step_lease_seconds
    step = job.result().steps["wait"]
    assert step.error == "stopped: the job was cancelled" and step.output is None
    assert runs(redis_client, job.id, "wait") == 1


@pytest.mark.faults
def test_duplicate_delivery_runs_nothing_twice(
    client: Client, redis_client: redis.Redis, broker_client: redis.Redis
) -> None:
    plan = {
        "steps": [
            {"id": "a", "agent": "echo", "input": {"text": "1"}},
            {"id": "b", "agent": "echo", "input": {"text": "2"}, "depends_on": ["a"]},
        ]
    }
    job = client.submit(plan=plan)
    first = job.wait(timeout=60)
    assert first.status == "succeeded"

    # Deliver a's and b's messages again, as a broker redelivery would.
    dispatcher = client.runtime.engine.dispatcher
    for step_id, agent in (("a", "echo"), ("b", "echo")):
        raw = f'{{"job":"{job.id}","step":"{step_id}","dispatch":1,"agent":"{agent}"}}'
        dispatcher.send_steps([StepMessage.parse(raw)] * 2)
    # A marker job queued behind the duplicates (FIFO) is taken after them; once it is
    # done and nothing is left unacknowledged, every duplicate has been handled.
    marker = client.submit(plan={"steps": [{"id": "m", "agent": "echo", "input": {"text": ""}}]})
    assert marker.wait(timeout=60).status == "succeeded"
    wait_for(
        lambda: not broker_client.llen("agent.echo") and not broker_client.hlen("unacked"),
        what="the duplicates to be handled and acknowledged",
    )

    again: JobResult = job.result()
    assert again.model_dump() == first.model_dump()
    assert runs(redis_client, job.id, "a") == 1
    assert runs(redis_client, job.id, "b") == 1
    assert [e.type for e in job.events(follow=False)].count("step_queued") == 2


def test_wait_times_out_with_a_clear_error(
    client: Client, redis_client: redis.Redis, unique: Callable[[str], str]
) -> None:
    gate = unique("slow")
    job = client.submit(plan={"steps": [{"id": "g", "agent": "gate", "input": {"gate": gate}}]})
    with pytest.raises(JobTimeout, match=f"job {job.id} is still running"):
        job.wait(timeout=0.5)
    open_gate(redis_client, gate)
    assert job.wait(timeout=60).status == "succeeded"


def test_unknown_job_id(client: Client) -> None:
    with pytest.raises(JobNotFound, match="no job 'nope'"):
        client.get("nope")


class _Trap:
    """Unpickling this creates a file: proof that a worker ran untrusted content."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (Path(self.path).touch, ())  # type: ignore[return-value]


@pytest.mark.faults
def test_workers_refuse_pickled_messages(
    client: Client, broker_client: redis.Redis, tmp_path: Path
) -> None:
    trap = tmp_path / "unpickled"
    client.runtime.app.send_task(
        names.TASK_RUN_STEP,
        kwargs={"job_id": "x", "step_id": "a", "dispatch": 1, "agent": _Trap(str(trap))},
        queue=names.agent_queue("echo"),
        serializer="pickle",
    )
    # A job queued behind it on the same queue: once it is done, the pickle was handled.
    marker = client.submit(plan={"steps": [{"id": "m", "agent": "echo", "input": {"text": ""}}]})
    assert marker.wait(timeout=60).status == "succeeded"
    wait_for(
        lambda: (
            not broker_client.llen(names.agent_queue("echo")) and not broker_client.hlen("unacked")
        ),
        what="the pickled message to be handled",
    )
    assert not trap.exists()
