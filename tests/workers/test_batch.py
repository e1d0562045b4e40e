"""Messages that carry several ready steps (``transport.dispatch.batches``, ``workers.batch``):
the real store on a private Redis, a RecordingDispatcher for the broker, the real StepRunner."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from orchestrator.runtime import Runtime
from orchestrator.store.records import StepMessage
from orchestrator.transport.dispatch import batches
from tests.workers.conftest import Events
from tests.workers.test_chain import started
from workers.batch import Carried
from workers.chain import Chaining
from workers.inline import InlineWorker


def messages(count: int, job: str = "j", agent: str = "upper") -> list[StepMessage]:
    return [StepMessage(job, f"s{i}", 1, agent, "") for i in range(count)]


def test_up_to_sixteen_ready_steps_go_one_a_message() -> None:
    assert [len(group) for group in batches(messages(16), 32)] == [1] * 16


def test_more_steps_share_messages_but_still_spread_over_sixteen_or_more() -> None:
    assert [len(group) for group in batches(messages(40), 32)] == [3] * 13 + [1]
    thousand = batches(messages(1000), 32)
    assert [len(group) for group in thousand] == [32] * 31 + [8]
    assert [m.step_id for group in thousand for m in group] == [f"s{i}" for i in range(1000)]
    assert len(batches(messages(1000), 1)) == 1000  # CELERIAC_STEPS_PER_MESSAGE=1


def test_only_steps_of_one_job_and_agent_type_share_a_message() -> None:
    mixed = messages(20, "j1") + messages(20, "j2") + messages(20, "j1", "exclaim")
    for group in batches(mixed, 32):
        assert len({(m.job_id, m.agent) for m in group}) == 1
    assert sum(len(group) for group in batches(mixed, 32)) == 60


def wide(count: int) -> dict[str, Any]:
    steps = [{"id": f"s{i}", "agent": "upper", "input": {"text": f"t{i}"}} for i in range(count)]
    return {"steps": steps}


def run_message(carried: Carried, group: list[StepMessage], task_id: str) -> str:
    first, *more = group
    runner = carried.runner
    return carried.run(
        lambda: runner.run(first.job_id, first.step_id, first.dispatch, first.agent, "w1"),
        more,
        "w1",
        "",
        task_id,
    )


def test_a_message_runs_the_steps_it_carries_side_by_side_and_shows_each(
    inline: tuple[Runtime, InlineWorker], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, worker = inline
    worker.runner.chain = chaining = Chaining(["upper"])
    chaining.ready(type("Consumer", (), {"event_dispatcher": Events()})())
    job_id = started(runtime, worker, wide(6))
    group = worker.dispatcher.take_steps()
    # The carried steps run in threads while the first runs: all six are inside at once.
    inside = threading.Barrier(6, timeout=20)
    run_one = worker.runner._run_one

    def meets_the_others(*args: Any) -> Any:
        inside.wait()
        return run_one(*args)

    monkeypatch.setattr(worker.runner, "_run_one", meets_the_others)
    assert run_message(Carried(worker.runner, "threads", 8), group, "task-0") == "succeeded"
    worker.drain()  # the job's finalize
    result = runtime.store.result(job_id)
    assert result.status == "succeeded", result.error
    assert {s.status for s in result.steps.values()} == {"succeeded"}
    assert {s.attempts for s in result.steps.values()} == {1}
    assert runtime.store.outbox.unclaimed() == []  # each claim took its step's entry
    # Flower sees the five carried steps as tasks of their agent, children of the message's.
    received = [e for e in chaining.events.sent if e["type"] == "task-received"]
    assert sorted(e["kwargs"] for e in received) == sorted(
        repr({"job_id": job_id, "step_id": f"s{i}", "dispatch": 1, "agent": "upper"})
        for i in range(1, 6)
    )
    assert {(e["name"], e["parent_id"]) for e in received} == {("upper", "task-0")}
    ends = [e["type"] for e in chaining.events.sent if e["type"].startswith("task-succ")]
    assert len(ends) == 5


def test_a_carried_step_that_fails_fails_alone(inline: tuple[Runtime, InlineWorker]) -> None:
    runtime, worker = inline
    worker.runner.chain = Chaining(["upper"])
    plan = wide(3)
    plan["steps"][1]["input"]["text"] = "boom"
    job_id = started(runtime, worker, plan)
    run_message(Carried(worker.runner, "threads", 4), worker.dispatcher.take_steps(), "task-0")
    steps = runtime.store.result(job_id).steps
    assert [steps[f"s{i}"].status for i in range(3)] == ["succeeded", "failed", "succeeded"]
    assert "it went boom" in (steps["s1"].error or "")


def test_the_solo_pool_runs_carried_steps_one_after_another(
    inline: tuple[Runtime, InlineWorker], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, worker = inline
    worker.runner.chain = Chaining(["upper"])
    job_id = started(runtime, worker, wide(4))
    threads: set[str] = set()
    run_one = worker.runner._run_one

    def noting_the_thread(*args: Any) -> Any:
        threads.add(threading.current_thread().name)
        return run_one(*args)

    monkeypatch.setattr(worker.runner, "_run_one", noting_the_thread)
    run_message(Carried(worker.runner, "solo", 1), worker.dispatcher.take_steps(), "task-0")
    assert threads == {threading.current_thread().name}
    steps = runtime.store.result(job_id).steps
    assert {s.status for s in steps.values()} == {"succeeded"}


def test_a_prefork_worker_publishes_the_carried_steps_again_one_a_message(
    inline: tuple[Runtime, InlineWorker],
) -> None:
    runtime, worker = inline
    assert worker.runner.chain is None  # a prefork worker
    job_id = started(runtime, worker, wide(4))
    group = worker.dispatcher.take_steps()
    run_message(Carried(worker.runner, "prefork", 4), group, "task-0")
    assert worker.dispatcher.steps == group[1:]  # for the pool's other children
    steps = runtime.store.result(job_id).steps
    assert [steps[f"s{i}"].status for i in range(4)] == ["succeeded"] + ["queued"] * 3
    worker.drain()
    assert runtime.store.result(job_id).status == "succeeded"
