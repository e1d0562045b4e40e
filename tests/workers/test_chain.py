"""A worker that runs a dependent step it made ready itself (``workers.chain``): the real
store on a private Redis, a RecordingDispatcher for the broker, the real StepRunner."""

from __future__ import annotations

from typing import Any

import pytest
from celery.worker import state as worker_state

from orchestrator.runtime import Runtime
from orchestrator.store.records import StepMessage
from tests.support.helpers import wait_for
from tests.workers.conftest import Events
from workers.chain import Chaining
from workers.inline import InlineWorker


def chain_plan(agents: str) -> dict[str, Any]:
    """Step s0 -> s1 -> ..., one a letter of ``agents`` (u: upper, e: exclaim)."""
    kinds = {"u": "upper", "e": "exclaim"}
    steps = []
    for i, kind in enumerate(agents):
        text: Any = {"$from": f"s{i - 1}", "path": "text"} if i else "hi"
        steps.append({"id": f"s{i}", "agent": kinds[kind], "input": {"text": text}})
    return {"steps": steps, "answer_from": f"s{len(agents) - 1}"}


def started(runtime: Runtime, worker: InlineWorker, plan: dict[str, Any]) -> str:
    job_id = runtime.engine.submit(plan)
    while worker.dispatcher.plans:
        runtime.engine.start(worker.dispatcher.plans.pop(0))
    return job_id


def run_next(worker: InlineWorker, task_id: str = "") -> StepMessage:
    message = worker.dispatcher.steps.pop(0)
    worker.runner.run(
        message.job_id, message.step_id, message.dispatch, message.agent, "w1", task_id=task_id
    )
    return message


def test_a_chain_runs_in_one_task_and_only_its_first_step_is_published(
    inline: tuple[Runtime, InlineWorker], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, worker = inline
    worker.runner.chain = chaining = Chaining(["upper", "exclaim"])
    chaining.ready(type("Consumer", (), {"event_dispatcher": Events()})())
    job_id = started(runtime, worker, chain_plan("ueue"))
    assert [m.step_id for m in worker.dispatcher.steps] == ["s0"]
    read, outputs = [], runtime.store.outputs

    def reading(job_id: str, step_ids: list[str]) -> dict[str, Any]:
        read.extend(step_ids)
        return outputs(job_id, step_ids)

    monkeypatch.setattr(runtime.store, "outputs", reading)
    run_next(worker, task_id="task-0")
    assert read == []  # each step's input came from the output the step before left at hand
    assert worker.dispatcher.steps == []  # s1, s2 and s3 ran in that same call
    while worker.dispatcher.finalizes:
        runtime.engine.finalize(worker.dispatcher.finalizes.pop(0))
    result = runtime.store.result(job_id)
    assert result.status == "succeeded", result.error
    assert result.answer == {"text": "HI!!"}
    assert {s.worker for s in result.steps.values()} == {"w1"}
    assert runtime.store.outbox.unclaimed() == []  # each claim took its message
    # Flower sees s1..s3 as tasks named after their agents, each the child of the one before.
    events = chaining.events.sent
    received = [e for e in events if e["type"] == "task-received"]
    assert [e["name"] for e in received] == ["exclaim", "upper", "exclaim"]
    parents = ["task-0", received[0]["uuid"], received[1]["uuid"]]
    assert [e["parent_id"] for e in received] == parents
    assert "'step_id': 's1'" in received[0]["kwargs"]
    ends = [e["type"] for e in events if e["type"] in ("task-succeeded", "task-failed")]
    assert ends == ["task-succeeded"] * 3


def test_a_dependent_of_a_type_this_worker_does_not_serve_is_published(
    inline: tuple[Runtime, InlineWorker],
) -> None:
    runtime, worker = inline
    worker.runner.chain = Chaining(["upper"])
    job_id = started(runtime, worker, chain_plan("uue"))
    run_next(worker)  # s0, and s1 (upper) after it
    assert [(m.step_id, m.agent) for m in worker.dispatcher.steps] == [("s2", "exclaim")]
    worker.drain()
    assert runtime.store.result(job_id).answer == {"text": "HI!"}


def test_of_two_ready_dependents_one_runs_here_and_the_other_is_published(
    inline: tuple[Runtime, InlineWorker],
) -> None:
    runtime, worker = inline
    worker.runner.chain = Chaining(["upper", "exclaim"])
    after_a = {"$from": "a", "path": "text"}
    plan = {
        "steps": [
            {"id": "a", "agent": "upper", "input": {"text": "hi"}},
            {"id": "b", "agent": "exclaim", "input": {"text": after_a}},
            {"id": "c", "agent": "exclaim", "input": {"text": after_a}},
        ]
    }
    job_id = started(runtime, worker, plan)
    run_next(worker)
    assert len(worker.dispatcher.steps) == 1  # the other one, for any worker
    worker.drain()
    result = runtime.store.result(job_id)
    assert result.status == "succeeded", result.error
    assert {s.attempts for s in result.steps.values()} == {1}


def test_a_worker_that_is_stopping_runs_nothing_more_itself(
    inline: tuple[Runtime, InlineWorker], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, worker = inline
    worker.runner.chain = Chaining(["upper", "exclaim"])
    started(runtime, worker, chain_plan("ue"))
    monkeypatch.setattr(worker_state, "should_stop", 0)  # a warm shutdown's exit code
    run_next(worker)
    assert [m.step_id for m in worker.dispatcher.steps] == ["s1"]


def test_a_dependent_claimed_by_a_worker_that_dies_is_run_again_when_its_lease_ends(
    inline: tuple[Runtime, InlineWorker], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, worker = inline
    worker.runner.chain = Chaining(["upper", "exclaim"])
    job_id = started(runtime, worker, chain_plan("ue"))
    runner = worker.runner
    run_one = runner._run_one

    def dies_after_the_first(message: StepMessage, *args: Any) -> Any:
        monkeypatch.setattr(runner, "_run_one", die)
        return run_one(message, *args)

    def die(*_: Any) -> Any:
        raise SystemExit("the worker is killed")

    monkeypatch.setattr(runner, "_run_one", dies_after_the_first)
    with pytest.raises(SystemExit):
        run_next(worker)  # s0 completes, and its completion claims s1 for w1
    monkeypatch.undo()
    assert worker.dispatcher.steps == [] and runtime.store.outbox.unclaimed() == []
    s1 = runtime.store.result(job_id).steps["s1"]
    assert (s1.status, s1.worker, s1.attempts) == ("running", "w1", 1)
    # Nothing renews s1's lease: when it runs out, the sweeper publishes s1 again.
    wait_for(lambda: runtime.sweeper.sweep().expired, what="s1's lease to expire")
    assert [m.step_id for m in worker.dispatcher.steps] == ["s1"]
    worker.drain()
    result = runtime.store.result(job_id)
    assert result.status == "succeeded" and result.answer == {"text": "HI!"}
    assert result.steps["s1"].attempts == 2


def test_without_chaining_every_step_is_published(inline: tuple[Runtime, InlineWorker]) -> None:
    runtime, worker = inline
    assert worker.runner.chain is None  # a prefork worker (CHAIN_STEPS=false: one serving no type)
    started(runtime, worker, chain_plan("ue"))
    run_next(worker)
    assert [m.step_id for m in worker.dispatcher.steps] == ["s1"]
