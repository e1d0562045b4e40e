"""The engine, the sweeper and the step runner in this process: a real store on the
session's Redis, a RecordingDispatcher instead of a broker, and InlineWorker instead of
worker processes. Fast, and each message's effect can be looked at one by one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.embedded.redis_server import RedisServer
from orchestrator.runtime import Runtime
from orchestrator.transport.dispatch import RecordingDispatcher
from tests.support.helpers import make_settings, wait_for
from tests.support.inline_agents import REGISTRY
from workers.inline import InlineWorker


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    """One Redis for this module's tests, emptied before each: the sweeper sweeps the
    whole deployment, so another test's jobs must not be there."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def inline(own_redis: RedisServer) -> Iterator[tuple[Runtime, InlineWorker]]:
    dispatcher = RecordingDispatcher()
    settings = make_settings(own_redis.url, score_retries=1)
    runtime = Runtime.build(settings, REGISTRY, dispatcher=dispatcher)
    runtime.redis.flushdb()
    worker = InlineWorker(runtime, REGISTRY, dispatcher)
    yield runtime, worker
    worker.close()
    runtime.close()


def step(step_id: str, text: Any, *after: str) -> dict[str, Any]:
    return {"id": step_id, "agent": "upper", "input": {"text": text}, "depends_on": list(after)}


def ref(step_id: str) -> dict[str, str]:
    return {"$from": step_id, "path": "text"}


def test_a_diamond_runs_inline_each_step_once_in_dependency_order(
    inline: tuple[Runtime, InlineWorker],
) -> None:
    runtime, worker = inline
    plan = {
        "steps": [step("a", "hi"), step("b", ref("a")), step("c", ref("a")), step("d", ref("b"))],
        "answer_from": "d",
    }
    job_id = runtime.engine.submit(plan)
    ran = worker.drain()
    result = runtime.store.result(job_id)
    assert result.status == "succeeded", result.error
    assert result.answer == {"text": "HI"}
    assert {sid: s.attempts for sid, s in result.steps.items()} == dict.fromkeys("abcd", 1)
    assert all(s.worker == "inline" for s in result.steps.values())
    assert result.score == 1.0
    assert ran >= 4  # each step's message, and the start or finalize tasks if any


def test_a_failed_step_skips_its_dependents_and_the_job_is_partial(
    inline: tuple[Runtime, InlineWorker],
) -> None:
    runtime, worker = inline
    job_id = runtime.engine.submit(
        {"steps": [step("a", "fine"), step("b", "boom"), step("c", ref("b"))]}
    )
    worker.drain()
    result = runtime.store.result(job_id)
    assert result.status == "partial"
    assert (result.steps["b"].status, result.steps["c"].status) == ("failed", "skipped")
    assert "it went boom" in (result.error or "")


def test_a_score_hook_that_raises_costs_the_step_its_scores_not_its_result(
    inline: tuple[Runtime, InlineWorker], caplog: pytest.LogCaptureFixture
) -> None:
    runtime, worker = inline
    job_id = runtime.engine.submit({"steps": [step("a", "unscorable")]})
    worker.drain()
    result = runtime.store.result(job_id)
    assert result.status == "succeeded"
    assert result.steps["a"].output == {"text": "UNSCORABLE"} and result.steps["a"].scores == []
    assert "scoring step a (upper) failed" in caplog.text


def test_a_step_under_the_threshold_runs_again_and_keeps_each_attempts_scores(
    inline: tuple[Runtime, InlineWorker],
) -> None:
    runtime, worker = inline
    job_id = runtime.engine.submit({"steps": [step("a", "poor")]}, threshold=0.5)
    worker.drain()
    # The retry waits in the outbox for its (short) delay: the sweeper sends it.
    wait_for(lambda: runtime.sweeper.sweep().resent, what="the retry to be due")
    worker.drain()
    result = runtime.store.result(job_id)
    assert result.status == "failed"
    assert result.steps["a"].attempts == 2  # score_retries=1
    assert [h.attempt for h in result.steps["a"].history] == [1, 2]
    assert all(h.scores[0].value == 0.2 for h in result.steps["a"].history)


def test_the_sweeper_requeues_a_step_whose_worker_took_it_and_vanished(
    inline: tuple[Runtime, InlineWorker],
) -> None:
    runtime, worker = inline
    job_id = runtime.engine.submit({"steps": [step("a", "lost")]})
    sent = worker.dispatcher
    while sent.plans:  # started: its root is published
        runtime.engine.start(sent.plans.pop(0))
    (message,) = sent.take_steps()
    claim = runtime.store.claim(
        job_id, "a", message.dispatch, "upper", "gone", 0.05, max_attempts=3
    )
    assert claim.ok  # ...and the worker that claimed it dies without a word
    wait_for(lambda: runtime.sweeper.sweep().expired, what="the lease to expire")
    assert [m.step_id for m in sent.steps] == ["a"]  # published again
    worker.drain()
    result = runtime.store.result(job_id)
    assert result.status == "succeeded" and result.steps["a"].attempts == 2
