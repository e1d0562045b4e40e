"""A person in the loop, through real worker processes: plans and steps that wait for a
yes, answered with the SDK and the CLI, and a wait that outlives every process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis

from orchestrator.client import Client, JobHandle
from orchestrator.embedded.deployment import Embedded
from orchestrator.embedded.redis_server import RedisServer
from orchestrator.errors import NotAwaitingApproval, PlanError
from orchestrator.settings import Settings
from tests.integration.test_jobs import runs
from tests.integration.test_planner import FAILING_BRANCH
from tests.support.cli import celeriac, fails
from tests.support.helpers import make_settings, wait_for
from tests.support.llm_server import LLMServer, Reply


def awaiting(job: JobHandle, step: str | None = None) -> None:
    if step is None:
        wait_for(lambda: job.status() == "awaiting_approval", what="the job to await approval")
    else:
        wait_for(
            lambda: job.result().steps[step].status == "awaiting_approval",
            what=f"step {step} to await approval",
        )


def echo(step_id: str, text: Any, *after: str) -> dict[str, Any]:
    return {"id": step_id, "agent": "echo", "input": {"text": text}, "depends_on": list(after)}


PLAN = {"steps": [echo("a", "hello"), echo("b", {"$from": "a", "path": "text"}, "a")]}
REFUND = {
    "steps": [
        echo("amount", "10 EUR"),
        {"id": "refund", "agent": "refund", "input": {"text": {"$from": "amount", "path": "text"}}},
        echo("note", "logged"),
    ],
    "answer_from": "refund",
}


def test_a_planned_goal_waits_for_approval_and_then_runs(client: Client) -> None:
    job = client.submit(goal="How do I turn on two-factor authentication?", approval="plan")
    awaiting(job)
    result = job.result()
    assert result.awaiting is not None and result.planner == "rules"
    assert [step.agent for step in result.awaiting.plan.steps] == ["retrieval", "generation"]
    assert all(step.status == "waiting" for step in result.steps.values())  # nothing ran
    assert job.approve() == "running"
    done = job.wait(timeout=60)
    assert done.status == "succeeded", done.error
    assert "two-factor" in done.answer["citations"]


def test_the_cli_shows_a_waiting_plan_refuses_a_bad_edit_and_runs_a_good_one(
    live_env: dict[str, str], client: Client, tmp_path: Path, redis_client: redis.Redis
) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    submitted = celeriac("submit", "--approve-plan", "--plan", str(plan), env=live_env)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    job = client.get(job_id)
    awaiting(job)
    shown = celeriac("status", job_id, env=live_env)
    assert f"job {job_id} awaits approval of its plan" in shown.stdout
    assert f"celeriac approve {job_id}" in shown.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"steps": [echo("x", "y", "nowhere")]}))
    refused = fails(celeriac("approve", job_id, "--plan", str(bad), env=live_env), 2)
    assert "unknown step 'nowhere'" in refused
    assert job.status() == "awaiting_approval"
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"steps": [echo("edited", "by a person")]}))
    approved = celeriac("approve", job_id, "--plan", str(good), env=live_env)
    assert approved.returncode == 0, approved.stderr
    assert job.wait(timeout=60).answer == {"text": "by a person"}
    assert runs(redis_client, job_id, "a") == 0
    again = fails(celeriac("approve", job_id, env=live_env), 2)
    assert again == f"job {job_id} is succeeded, not awaiting approval: there is nothing to decide"


def test_a_plan_rejected_on_the_cli_ends_rejected_with_the_reason(
    live_env: dict[str, str], client: Client
) -> None:
    job = client.submit(plan=PLAN, approval="plan")
    awaiting(job)
    rejected = celeriac("reject", job.id, "--reason", "not this week", env=live_env)
    assert (rejected.returncode, rejected.stdout.strip()) == (0, f"{job.id} rejected")
    result = job.wait(timeout=10)
    assert (result.status, result.error) == ("rejected", "rejected: not this week")
    shown = celeriac("result", job.id, env=live_env)
    assert shown.returncode == 1
    assert fails(celeriac("reject", job.id, "--reason", "again", env=live_env), 2).endswith(
        "is rejected, not awaiting approval: there is nothing to decide"
    )


def test_a_step_that_needs_a_yes_waits_on_no_worker_and_runs_once_approved(
    client: Client, redis_client: redis.Redis
) -> None:
    job = client.submit(plan=REFUND)
    awaiting(job, "refund")
    result = job.result()
    assert result.steps["refund"].approval_input == {"text": "10 EUR"}
    wait_for(lambda: job.result().steps["note"].status == "succeeded", what="the rest to go on")
    assert runs(redis_client, job.id, "refund") == 0
    with pytest.raises(NotAwaitingApproval, match="its step 'refund' is"):
        job.approve()
    job.approve(step="refund")
    done = job.wait(timeout=60)
    assert (done.status, done.answer) == ("succeeded", {"text": "refunded 10 EUR"})
    assert runs(redis_client, job.id, "refund") == 1
    assert done.steps["refund"].attempts == 1


def test_a_rejected_step_fails_with_the_reason(client: Client) -> None:
    job = client.submit(plan=REFUND)
    awaiting(job, "refund")
    job.reject("the customer was refunded already", step="refund")
    result = job.wait(timeout=60)
    assert result.status == "failed"  # its answer step failed
    assert result.steps["refund"].error == "rejected: the customer was refunded already"
    assert result.steps["note"].status == "succeeded"


@pytest.mark.faults
def test_waits_outlive_every_worker_and_a_redis_restart() -> None:
    with RedisServer(appendonly=True) as server:
        settings = make_settings(server.url, embedded_workers=1)
        with Embedded(settings) as live, Client(live) as client:
            plan_job = client.submit(plan=PLAN, approval="plan")
            step_job = client.submit(plan=REFUND)
            awaiting(plan_job)
            awaiting(step_job, "refund")
        # Every worker is gone; now Redis goes too, and comes back from its append-only file.
        server.restart()
        with Embedded(settings) as live, Client(live) as client:
            plan_job, step_job = client.get(plan_job.id), client.get(step_job.id)
            waiting = plan_job.result()
            assert waiting.status == "awaiting_approval"
            assert waiting.awaiting is not None and waiting.awaiting.plan.steps[0].id == "a"
            assert step_job.result().steps["refund"].status == "awaiting_approval"
            plan_job.approve()
            step_job.approve(step="refund")
            assert plan_job.wait(timeout=60).answer == {"text": "hello"}
            assert step_job.wait(timeout=60).answer == {"text": "refunded 10 EUR"}


def test_a_replanning_asks_again_and_its_new_steps_may_be_edited(
    planning: Settings, llm_server: LLMServer
) -> None:
    instead = {
        "steps": [
            echo("safe", "world"),
            {
                "id": "final_2",
                "agent": "concat",
                "input": {
                    "parts": [{"$from": "greet", "path": "text"}, {"$from": "safe", "path": "text"}]
                },
            },
        ],
        "answer_from": "final_2",
    }
    llm_server.script(Reply.of_json(FAILING_BRANCH), Reply.of_json(instead))
    with Client(planning) as client:
        job = client.submit(goal="Greet the world", approval="plan")
        awaiting(job)
        job.approve()
        wait_for(lambda: job.result().awaiting is not None, what="the replanning to await approval")
        proposed = job.result().awaiting
        assert proposed is not None and (proposed.what, proposed.new) == (
            "replan",
            ["safe", "final_2"],
        )
        whole = proposed.plan.model_dump(mode="json")
        changed_old = json.loads(json.dumps(whole))
        changed_old["steps"][0]["input"]["text"] = "bye"
        with pytest.raises(PlanError, match="keeps the job's steps as they are"):
            job.approve(plan=changed_old)
        whole["steps"][3]["input"]["text"] = "there"  # the new step 'safe', edited
        job.approve(plan=whole)
        result = job.wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.answer == {"text": "hello there"}
    assert result.replans[0].added == ["safe", "final_2"]
    assert len(llm_server.chat_requests) == 2
