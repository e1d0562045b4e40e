"""Approvals in this process: the real store on a Redis of this module's own, the engine
publishing to a RecordingDispatcher, InlineWorker running what it published."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agents.base import Agent, StepContext
from examples.text_agents import Shout, Text
from orchestrator.approval import Approvals
from orchestrator.embedded.redis_server import RedisServer
from orchestrator.errors import NotAwaitingApproval, PlanError, UserError
from orchestrator.runtime import Runtime
from orchestrator.transport.dispatch import RecordingDispatcher
from tests.support.helpers import make_settings, wait_for
from workers.inline import InlineWorker


class Send(Agent):
    name = "send"
    description = "Sends its text (pretends to): a person says yes first."
    Input = Text
    Output = Text
    needs_approval = True
    sent: list[str] = []  # noqa: RUF012 - what the tests' sends sent, in order

    def run(self, input: Text, context: StepContext) -> Text:
        Send.sent.append(input.text)
        return Text(text=f"sent {input.text}")


REGISTRY: dict[str, type[Agent]] = {"shout": Shout, "send": Send}
Inline = tuple[Runtime, InlineWorker, Approvals]


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def inline(own_redis: RedisServer) -> Iterator[Inline]:
    dispatcher = RecordingDispatcher()
    settings = make_settings(own_redis.url)
    runtime = Runtime.build(settings, REGISTRY, dispatcher=dispatcher)
    runtime.redis.flushdb()
    Send.sent.clear()
    worker = InlineWorker(runtime, REGISTRY, dispatcher)
    yield runtime, worker, Approvals(runtime.engine)
    worker.close()
    runtime.close()


def step(step_id: str, agent: str, text: Any, *after: str) -> dict[str, Any]:
    return {"id": step_id, "agent": agent, "input": {"text": text}, "depends_on": list(after)}


def ref(step_id: str) -> dict[str, str]:
    return {"$from": step_id, "path": "text"}


def sweep_until(inline: Inline, done: Callable[[], bool], what: str) -> None:
    """Sweep (and run what the sweep sent) until ``done``; as the sweeper does, now and then."""
    runtime, worker, _ = inline

    def swept() -> bool:
        runtime.sweeper.sweep()
        worker.drain()
        return done()

    wait_for(swept, timeout=10, what=what)


PLAN = {"steps": [step("a", "shout", "hi"), step("b", "shout", ref("a"), "a")]}


def test_a_plan_waits_for_approval_holding_nothing_then_runs(inline: Inline) -> None:
    runtime, worker, approvals = inline
    job_id = runtime.engine.submit(PLAN, approval="plan")
    result = runtime.store.result(job_id)
    assert result.status == "awaiting_approval"
    assert result.awaiting is not None and result.awaiting.what == "plan"
    assert [s.id for s in result.awaiting.plan.steps] == ["a", "b"]
    assert worker.drain() == 0  # nothing was published: no worker is held
    assert approvals.approve(job_id) == "running"
    worker.drain()
    done = runtime.store.result(job_id)
    assert (done.status, done.answer, done.awaiting) == ("succeeded", {"text": "HI"}, None)
    types = [e.type for e in runtime.store.read_events(job_id)]
    assert types.index("job_awaiting_approval") < types.index("job_approved")
    assert types.index("job_approved") < types.index("job_started")


def test_a_rejected_plan_ends_the_job_rejected_with_the_reason(inline: Inline) -> None:
    runtime, worker, approvals = inline
    job_id = runtime.engine.submit(PLAN, approval="plan")
    assert approvals.reject(job_id, "not today") == "rejected"
    result = runtime.store.result(job_id)
    assert (result.status, result.error) == ("rejected", "rejected: not today")
    assert worker.drain() == 0
    with pytest.raises(NotAwaitingApproval, match="is rejected, not awaiting approval"):
        approvals.approve(job_id)
    with pytest.raises(UserError, match="say why"):
        approvals.reject(job_id, "  ")


def test_approving_twice_or_a_job_that_does_not_wait_is_an_error(inline: Inline) -> None:
    runtime, worker, approvals = inline
    job_id = runtime.engine.submit(PLAN, approval="plan")
    approvals.approve(job_id)
    with pytest.raises(NotAwaitingApproval, match=f"job {job_id} is running"):
        approvals.approve(job_id)
    worker.drain()
    with pytest.raises(NotAwaitingApproval, match="is succeeded"):
        approvals.reject(job_id, "too late")
    plain = runtime.engine.submit(PLAN)
    with pytest.raises(NotAwaitingApproval, match="is running"):
        approvals.approve(plain)


def test_of_two_people_approving_at_once_exactly_one_wins(inline: Inline) -> None:
    runtime, worker, approvals = inline
    job_id = runtime.engine.submit(PLAN, approval="plan")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def approve() -> None:
        barrier.wait()
        try:
            approvals.approve(job_id)
            outcomes.append("won")
        except NotAwaitingApproval:
            outcomes.append("refused")

    threads = [threading.Thread(target=approve) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "refused", "refused", "won"]
    worker.drain()
    result = runtime.store.result(job_id)
    assert result.status == "succeeded"
    assert result.steps["a"].attempts == 1  # its roots were queued once


def test_an_edited_plan_is_validated_and_an_invalid_one_leaves_the_job_waiting(
    inline: Inline,
) -> None:
    runtime, worker, approvals = inline
    job_id = runtime.engine.submit(PLAN, approval="plan")
    bad = {"steps": [step("a", "shout", "x", "nowhere")]}
    with pytest.raises(PlanError, match="unknown step 'nowhere'"):
        approvals.approve(job_id, bad)
    with pytest.raises(PlanError, match="unknown agent"):
        approvals.approve(job_id, {"steps": [step("a", "nosuch", "x")]})
    assert runtime.store.job_status(job_id) == "awaiting_approval"
    edited = {"steps": [step("only", "shout", "edited")]}
    approvals.approve(job_id, edited)
    worker.drain()
    result = runtime.store.result(job_id)
    assert (result.status, result.answer) == ("succeeded", {"text": "EDITED"})
    assert result.plan is not None
    assert [s.id for s in result.plan.steps] == ["only"]
    approved = [e for e in runtime.store.read_events(job_id) if e.type == "job_approved"]
    assert approved[0].data == {"what": "plan", "edited": True}


def test_a_wait_past_its_timeout_ends_expired(inline: Inline) -> None:
    runtime, worker, approvals = inline
    job_id = runtime.engine.submit(PLAN, approval="plan", approval_timeout=0.2)
    sweep_until(inline, lambda: runtime.store.result(job_id).done, "the wait to expire")
    assert runtime.store.job_status(job_id) == "expired"
    result = runtime.store.result(job_id)
    assert result.error is not None and "no one approved the plan" in result.error
    with pytest.raises(NotAwaitingApproval, match="is expired"):
        approvals.approve(job_id)
    assert worker.drain() == 0


def test_a_waiting_job_can_be_cancelled(inline: Inline) -> None:
    runtime, _, approvals = inline
    job_id = runtime.engine.submit(PLAN, approval="plan")
    assert runtime.engine.cancel(job_id) == "cancelled"
    with pytest.raises(NotAwaitingApproval, match="is cancelled"):
        approvals.approve(job_id)


GATED = {
    "steps": [
        step("draft", "shout", "refund 10"),
        step("send", "send", ref("draft"), "draft"),
        step("note", "shout", "logged"),
        step("after", "shout", ref("send"), "send"),
    ],
    "answer_from": "after",
}


def test_a_step_that_needs_a_yes_waits_with_its_input_while_the_rest_goes_on(
    inline: Inline,
) -> None:
    runtime, worker, approvals = inline
    job_id = runtime.engine.submit(GATED)
    worker.drain()
    result = runtime.store.result(job_id)
    assert result.status == "running"
    assert result.steps["note"].status == "succeeded"  # the rest of the plan went on
    send = result.steps["send"]
    assert (send.status, send.approval_input, send.worker) == (
        "awaiting_approval",
        {"text": "REFUND 10"},
        None,
    )
    assert Send.sent == []
    with pytest.raises(NotAwaitingApproval, match="its step 'send' is"):
        approvals.approve(job_id)
    with pytest.raises(UserError, match="has no step 'nosuch'"):
        approvals.approve(job_id, step="nosuch")
    assert approvals.approve(job_id, step="send") == "running"
    worker.drain()
    done = runtime.store.result(job_id)
    assert (done.status, done.answer) == ("succeeded", {"text": "SENT REFUND 10"})
    assert done.steps["send"].attempts == 1  # waiting was not an attempt
    assert Send.sent == ["REFUND 10"]
    with pytest.raises(NotAwaitingApproval, match=r"step .send. of job \w+ is succeeded"):
        approvals.approve(job_id, step="send")


def test_a_rejected_step_fails_with_the_reason_and_the_job_goes_on_as_after_a_failure(
    inline: Inline,
) -> None:
    runtime, worker, approvals = inline
    job_id = runtime.engine.submit(GATED)
    worker.drain()
    assert approvals.reject(job_id, "wrong customer", step="send") == "failed"
    worker.drain()
    result = runtime.store.result(job_id)
    assert result.steps["send"].error == "rejected: wrong customer"
    assert result.steps["after"].status == "skipped"
    assert result.status == "failed"
    assert Send.sent == []


def test_a_step_waiting_past_its_timeout_fails_expired(inline: Inline) -> None:
    runtime, worker, _ = inline
    job_id = runtime.engine.submit(GATED, approval_timeout=0.2)
    worker.drain()
    sweep_until(inline, lambda: runtime.store.result(job_id).done, "the step's wait to expire")
    result = runtime.store.result(job_id)
    assert result.status == "failed"
    error = result.steps["send"].error or ""
    assert error.startswith("expired: no one approved step 'send'")


def test_cancelling_a_job_cancels_its_step_awaiting_approval(inline: Inline) -> None:
    runtime, worker, approvals = inline
    job_id = runtime.engine.submit(GATED)
    worker.drain()
    assert runtime.engine.cancel(job_id) == "cancelled"
    assert runtime.store.result(job_id).steps["send"].status == "cancelled"
    with pytest.raises(NotAwaitingApproval, match=r"step .send. of job \w+ is cancelled"):
        approvals.approve(job_id, step="send")
    assert worker.drain() == 0 and Send.sent == []
