"""The store's atomic state changes, against a real Redis, without workers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from orchestrator import names
from orchestrator.embedded.redis_server import RedisServer
from orchestrator.models import Plan, Score, TokenUsage
from orchestrator.store.jobs import Store
from orchestrator.store.records import Followups, StepMessage


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[Store]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield Store(client, grace_seconds=30, result_ttl=3600)
    client.close()


def start(
    store: Store, steps: list[dict[str, Any]], answer_from: str | None = None
) -> tuple[str, list[str]]:
    job_id = uuid.uuid4().hex
    plan = Plan.model_validate({"steps": steps, "answer_from": answer_from})
    started = store.create_job(job_id, plan)
    assert isinstance(started, Followups)
    return job_id, [m.step_id for m in started.messages]


def run_step(store: Store, job_id: str, step_id: str, dispatch: int = 1) -> Followups:
    claim = store.claim(job_id, step_id, dispatch, "echo", "w1", 30, max_attempts=3)
    assert claim.ok, claim
    return store.complete(job_id, step_id, {"step": step_id})


DIAMOND: list[dict[str, Any]] = [
    {"id": "a", "agent": "echo"},
    {"id": "b", "agent": "echo", "depends_on": ["a"]},
    {"id": "c", "agent": "echo", "depends_on": ["a"]},
    {"id": "d", "agent": "echo", "depends_on": ["b", "c"]},
]


def test_roots_are_queued_at_start_and_start_happens_once(store: Store) -> None:
    job_id, queued = start(store, DIAMOND)
    assert queued == ["a"]
    plan = store.plan(job_id)
    assert plan is not None
    assert store.start_job(job_id, plan) == "running"
    assert store.job_status(job_id) == "running"


def test_completion_queues_children_exactly_once(store: Store) -> None:
    job_id, _ = start(store, DIAMOND)
    after_a = run_step(store, job_id, "a")
    assert sorted(m.step_id for m in after_a.messages) == ["b", "c"]
    assert not after_a.finalize
    assert not run_step(store, job_id, "b").messages
    after_c = run_step(store, job_id, "c")
    assert [m.step_id for m in after_c.messages] == ["d"]
    assert run_step(store, job_id, "d").finalize


def test_completing_the_last_step_reads_the_job_as_a_read_then_would(store: Store) -> None:
    job_id, _ = start(store, DIAMOND, answer_from="d")
    for step_id in "abc":
        assert run_step(store, job_id, step_id).ended is None  # steps still to end
    assert store.claim(job_id, "d", 1, "echo", "w1", 30, max_attempts=3).ok
    scores = [Score(name="f1", value=0.5, method="lexical")]
    last = store.complete(job_id, "d", {"step": "d"}, scores, TokenUsage.of(3, 4, 0.25))
    assert last.finalize and last.ended is not None
    assert last.ended == store.result(job_id)
    assert last.ended.steps["d"].scores == scores and last.ended.usage.cost == 0.25
    # The same completion again (a redelivered message): finalizing it reads for itself.
    again = store.complete(job_id, "d", {"step": "d"})
    assert again.finalize and again.ended is None


@pytest.mark.parametrize("round_", range(30))
def test_parents_finishing_together_queue_the_child_once(store: Store, round_: int) -> None:
    job_id, _ = start(store, DIAMOND)
    run_step(store, job_id, "a")
    for step_id in "bc":
        assert store.claim(job_id, step_id, 1, "echo", "w", 30, max_attempts=3).ok
    gate = threading.Barrier(2)
    results: dict[str, Followups] = {}

    def finish(step_id: str) -> None:
        gate.wait()
        results[step_id] = store.complete(job_id, step_id, {"step": step_id})

    threads = [threading.Thread(target=finish, args=(s,)) for s in "bc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queued = [m.step_id for r in results.values() for m in r.messages]
    assert queued == ["d"]


def test_duplicate_completion_does_not_queue_again(store: Store) -> None:
    job_id, _ = start(store, DIAMOND)
    first = run_step(store, job_id, "a")
    assert len(first.messages) == 2
    store.outbox.sent(first.messages)
    # A redelivered message: the claim refuses, and the completion is not counted twice.
    claim = store.claim(job_id, "a", 1, "echo", "w2", 30, max_attempts=3)
    assert not claim.ok and claim.reason == "succeeded"
    again = store.complete(job_id, "a", {"step": "a"})
    # Children still queued are offered again (publishing twice is harmless),
    # but the waiting counts did not move: d is not queued.
    assert sorted(m.step_id for m in again.messages) == ["b", "c"]
    run_step(store, job_id, "b")
    assert store.step_records(job_id, ["d"])["d"]["status"] == "waiting"


def test_stale_dispatch_is_refused(store: Store) -> None:
    job_id, _ = start(store, [{"id": "a", "agent": "echo"}])
    assert store.claim(job_id, "a", 1, "echo", "w1", 30, max_attempts=3).ok
    store.redis.hset(names.step_key(job_id, "a"), "lease_until", 0)  # the worker went silent
    requeued = store.expire(job_id, "a", max_attempts=3)
    assert [m.dispatch for m in requeued.messages] == [2]
    assert store.claim(job_id, "a", 1, "echo", "w-old", 30, max_attempts=3).reason == "stale"
    claim = store.claim(job_id, "a", 2, "echo", "w-new", 30, max_attempts=3)
    assert claim.ok and claim.attempt == 2


def test_a_redelivered_message_takes_over_a_lost_step_only_while_attempts_remain(
    store: Store,
) -> None:
    job_id, _ = start(store, [{"id": "a", "agent": "echo"}])
    step_key = names.step_key(job_id, "a")
    first = store.claim(job_id, "a", 1, "echo", "w1", 30, max_attempts=2)
    assert first.ok and first.lost is None
    started = float(store.step_records(job_id, ["a"])["a"]["started_at"])
    store.redis.hset(step_key, "lease_until", 0)  # its worker died; the broker redelivers
    claim = store.claim(job_id, "a", 1, "echo", "w2", 30, max_attempts=2)
    assert claim.ok and claim.attempt == 2
    assert claim.lost == ("w1", started, 0.0)  # what the lost attempt's span tells
    store.redis.hset(step_key, "lease_until", 0)  # and again
    assert store.claim(job_id, "a", 1, "echo", "w3", 30, max_attempts=2).reason == "exhausted"
    assert store.expire(job_id, "a", max_attempts=2).finalize  # the sweeper fails it
    record = store.step_records(job_id, ["a"])["a"]
    assert (record["status"], record["attempts"]) == ("failed", "2")


def test_a_held_lease_is_not_expired(store: Store) -> None:
    job_id, _ = start(store, [{"id": "a", "agent": "echo"}])
    assert store.claim(job_id, "a", 1, "echo", "w1", 30, max_attempts=3).ok
    assert store.expire(job_id, "a", max_attempts=3) == Followups()
    assert store.claim(job_id, "a", 1, "echo", "w2", 30, max_attempts=3).reason == "running"


def test_failure_skips_every_descendant(store: Store) -> None:
    job_id, _ = start(store, [*DIAMOND, {"id": "e", "agent": "echo", "depends_on": ["d"]}])
    run_step(store, job_id, "a")
    assert store.claim(job_id, "b", 1, "echo", "w", 30, max_attempts=3).ok
    done = store.fail(job_id, "b", 1, "broken", retry_delay=None, max_attempts=3)
    assert not done.finalize
    records = store.step_records(job_id, ["b", "d", "e"])
    assert [records[s]["status"] for s in "bde"] == ["failed", "skipped", "skipped"]
    last = run_step(store, job_id, "c")  # c was the last step still to end
    assert last.finalize and last.ended == store.result(job_id)


def test_retry_requeues_with_a_new_dispatch(store: Store) -> None:
    job_id, _ = start(store, [{"id": "a", "agent": "echo"}])
    assert store.claim(job_id, "a", 1, "echo", "w", 30, max_attempts=3).ok
    store.fail(job_id, "a", 1, "429", retry_delay=5, max_attempts=3)
    record = store.step_records(job_id, ["a"])["a"]
    assert (record["status"], record["dispatch"], record["error"]) == ("queued", "2", "429")
    due = [str(raw) for raw in store.redis.zrange(names.job_index(names.OUTBOX, job_id), 0, -1)]
    assert any(f'"job":"{job_id}"' in raw and '"dispatch":2' in raw for raw in due)


def test_cancel_cancels_what_has_not_started(store: Store) -> None:
    job_id, _ = start(store, DIAMOND)
    assert store.claim(job_id, "a", 1, "echo", "w", 30, max_attempts=3).ok
    assert store.cancel_job(job_id) == "cancelled"
    after = store.complete(job_id, "a", {"step": "a"})
    assert after == Followups(messages=[], finalize=False)
    records = store.step_records(job_id, list("abcd"))
    assert [records[s]["status"] for s in "abcd"] == [
        "succeeded",
        "cancelled",
        "cancelled",
        "cancelled",
    ]
    assert store.cancel_job(job_id) == "cancelled"


def test_a_message_stays_in_the_outbox_until_a_worker_claims_it(store: Store) -> None:
    job_id, _ = start(store, [{"id": "a", "agent": "echo"}])
    [raw] = [
        m
        for m in store.redis.zrange(names.job_index(names.OUTBOX, job_id), 0, -1)
        if job_id in str(m)
    ]
    message = StepMessage.parse(str(raw))
    store.outbox.sent([message])
    resend_at = store.redis.zscore(names.job_index(names.OUTBOX, job_id), message.raw)
    assert resend_at is not None and resend_at >= store.outbox.now() + store.redeliver_seconds - 5
    assert store.claim(job_id, "a", 1, "echo", "w", 30, max_attempts=3).ok
    assert store.redis.zscore(names.job_index(names.OUTBOX, job_id), message.raw) is None


def test_a_redis_restart_is_noticed_once(store: Store) -> None:
    store.redis.delete(names.SERVER_KEY)
    assert not store.outbox.restarted()  # the first look: nothing to compare with
    assert not store.outbox.restarted()  # the same server
    store.redis.set(names.SERVER_KEY, "the run id of a server before a restart")
    assert store.outbox.restarted()
    assert not store.outbox.restarted()  # told once, to one sweeper


def test_a_restart_is_never_claimed_where_redis_will_not_say(store: Store) -> None:
    class Guarded(redis.Redis):
        def info(self, *args: Any, **kwargs: Any) -> Any:
            raise redis.ResponseError("unknown command 'INFO'")  # as some managed Redis say

    guarded = Store(
        Guarded(connection_pool=store.redis.connection_pool), grace_seconds=30, result_ttl=3600
    )
    assert not guarded.outbox.restarted()


def test_a_silent_worker_is_taken_off_the_roster_by_one_sweeper(store: Store) -> None:
    roster = store.roster
    roster.heartbeat("gone@host", {"agents": ["echo"]}, forget_after=3600)
    roster.heartbeat("alive@host", {"agents": ["concat"]}, forget_after=3600)
    store.redis.zadd(names.WORKERS_KEY, {"gone@host": roster.now() - 60})  # silent a minute
    assert roster.take_lost(10) == {"gone@host": {"agents": ["echo"]}}
    assert roster.take_lost(10) == {}  # the next sweeper finds nothing to do
    assert set(roster.live(10)) >= {"alive@host"} and "gone@host" not in roster.live(3600)
    roster.forget("alive@host")
