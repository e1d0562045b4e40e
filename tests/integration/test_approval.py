"""A person in the loop, through real worker processes: plans and steps that wait for a
yes, answered with the SDK and the CLI, and a wait that outlives every process."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
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
from tests.support.cli import celeriac, environment, fails
from tests.support.helpers import ROOT, make_settings, wait_for
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


def at_a_terminal(env: dict[str, str], *args: str) -> tuple[int, subprocess.Popen[bytes]]:
    """``celeriac ARGS`` with a pseudo-terminal for its stdin, stdout and stderr; the
    terminal's end for the test, and the process."""
    ours, theirs = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=ROOT,
        env={**env, "COLUMNS": "200"},
        stdin=theirs,
        stdout=theirs,
        stderr=theirs,
    )
    os.close(theirs)
    return ours, process


def read_until(fd: int, text: str, timeout: float = 60.0) -> str:
    """What the terminal shows, read until ``text`` appears (or the deadline passes)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in plain(seen):
        left = deadline - time.monotonic()
        assert left > 0, f"no {text!r} on the terminal; it showed {seen.decode(errors='replace')!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the process ended and closed the terminal
                break
    return plain(seen)


def plain(shown: bytes) -> str:
    """Terminal output without its colours and cursor moves."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace"))


@pytest.mark.parametrize(("answer", "status"), [("y\n", "succeeded"), ("n\nnot now\n", "rejected")])
def test_watch_at_a_terminal_shows_the_plan_and_asks(
    live_env: dict[str, str], client: Client, answer: str, status: str
) -> None:
    job = client.submit(plan=PLAN, approval="plan")
    awaiting(job)
    terminal, process = at_a_terminal(live_env, "watch", job.id)
    try:
        shown = read_until(terminal, "approve the plan?")
        assert f"job {job.id} awaits approval of its plan" in shown
        assert '"agent": "echo"' in shown
        os.write(terminal, answer.encode())
        assert job.wait(timeout=60).status == status
        read_until(terminal, f"{job.id} {status}")
        assert process.wait(timeout=30) == 0
    finally:
        os.close(terminal)
        if process.poll() is None:
            process.kill()
            process.wait()
    if status == "rejected":
        assert job.result().error == "rejected: not now"


def test_run_at_a_terminal_asks_before_its_plan_runs(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    terminal, process = at_a_terminal(environment(), "run", "--approve-plan", "--plan", str(plan))
    try:
        read_until(terminal, "approve the plan?")
        os.write(terminal, b"y\n")
        shown = read_until(terminal, ": succeeded", timeout=90)
        assert process.wait(timeout=60) == 0, shown
    finally:
        os.close(terminal)
        if process.poll() is None:
            process.kill()
            process.wait()


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


def test_a_wait_no_one_answers_expires_by_the_sweeper(client: Client) -> None:
    plan_job = client.submit(plan=PLAN, approval="plan", approval_timeout=0.5)
    step_job = client.submit(plan=REFUND, approval_timeout=0.5)
    expired = plan_job.wait(timeout=30)
    assert expired.status == "expired"
    assert expired.error == "expired: no one approved the plan within its approval timeout"
    failed = step_job.wait(timeout=30)
    assert failed.steps["refund"].error == (
        "expired: no one approved step 'refund' within its approval timeout"
    )
    assert failed.steps["note"].status == "succeeded"


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
