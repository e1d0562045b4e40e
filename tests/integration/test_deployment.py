"""A deployment as users scale it: agent types added by new workers, and Flower."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from orchestrator.client import Client
from orchestrator.embedded.deployment import settings_env
from orchestrator.embedded.redis_server import free_port
from orchestrator.settings import Settings
from tests.support.helpers import http_get, wait_for
from tests.support.sample_agents import TEST_PREFIX

ROOT = Path(__file__).resolve().parents[2]


def test_a_type_added_by_a_new_worker_is_usable_without_changing_anything(
    isolated: Callable[..., Settings], spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    live = isolated(workers=1)  # serves the test agents and the orchestrator
    plan = {"steps": [{"id": "d", "agent": "double", "input": {"value": 21}}]}
    with Client(live) as client:
        assert "double" not in client.known_agents()
        extra = live.model_copy(
            update={"agent_modules": [*live.agent_modules, "tests.support.remote_agents"]}
        )
        spawn(extra, "worker", "--agent", "double", "--no-orchestrator")
        wait_for(lambda: "double" in client.known_agents(), what="the new worker's heartbeat")

        # Neither this client nor the orchestrator worker can import `double`.
        result = client.submit(plan=plan).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.answer == {"value": 42}


def _get(url: str, auth: str | None = None) -> tuple[int, Any]:
    """The status and the JSON object Flower answered with (None if none)."""
    status, body = http_get(url, auth)
    return status, json.loads(body) if body.startswith("{") else None


def test_flower_shows_each_step_as_a_task_named_after_its_agent(
    deployment: Settings,
    client: Client,
    spawn: Callable[..., subprocess.Popen[bytes]],
    redis_client: redis.Redis,
) -> None:
    port = free_port()
    spawn(deployment, "flower", "--port", str(port), "--basic-auth", "ada:secret")
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _get(base)[0] == 401, what="Flower to answer (and ask for a login)")

    jobs: list[str] = []

    def flower_saw_a_job() -> bool:
        # Flower hears task events only once its receiver is connected, a little after
        # its web server answers: run small jobs until one is seen whole.
        status, tasks = _get(f"{base}/api/tasks", auth="ada:secret")
        assert status == 200
        for job_id in jobs:
            names = {
                task["name"]
                for task in (tasks or {}).values()
                if job_id in str(task.get("kwargs")) and task.get("state") == "SUCCESS"
            }
            if {"echo", "concat"} <= names:
                return True
        plan = {
            "steps": [
                {"id": "a", "agent": "echo", "input": {"text": "seen"}},
                {"id": "b", "agent": "concat", "input": {"parts": ["x"]}, "depends_on": ["a"]},
            ]
        }
        job = client.submit(plan=plan)
        assert job.wait(timeout=60).status == "succeeded"
        jobs.append(job.id)
        return False

    wait_for(flower_saw_a_job, what="Flower to see a job's steps as tasks named after agents")
    # Flower is listening now: a whole goal's tasks reach it, the orchestrator's included.
    job = client.submit(goal="How do I reset my password?")
    result = job.wait(timeout=60)
    assert result.status == "succeeded", result.error
    agents = {step.agent for step in result.steps.values()}

    seen: list[Any] = []

    def tasks_of_job() -> list[dict[str, Any]] | None:
        _, tasks = _get(f"{base}/api/tasks", auth="ada:secret")
        ours = [t for t in (tasks or {}).values() if job.id in str(t.get("kwargs"))]
        seen[:] = sorted((t["name"], t.get("state")) for t in ours)
        names = {t["name"] for t in ours if t.get("state") == "SUCCESS"}
        return ours if {"celeriac.plan", *agents} <= names else None

    try:
        ours = wait_for(tasks_of_job, what="Flower to list the job's plan task and steps")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: wanted celeriac.plan and {agents}, saw {seen}") from None
    step_id, step = next(iter(result.steps.items()))
    task = next(t for t in ours if t["name"] == step.agent and step_id in t["kwargs"])
    assert f"'step_id': '{step_id}'" in task["kwargs"]  # the job and step are in its arguments

    def succeeded_in_metrics(task: str) -> float:
        text = http_get(f"{base}/metrics", auth="ada:secret")[1]
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("flower_events_total{")
            and f'task="{task}"' in line
            and 'type="task-succeeded"' in line
        )

    assert succeeded_in_metrics("echo") >= 1 and succeeded_in_metrics("concat") >= 1

    # A step's progress reports show as a custom state with their fields.
    gate = f"flower-{job.id[:8]}"
    job = client.submit(
        plan={"steps": [{"id": "m", "agent": "milestone", "input": {"gate": gate}}]}
    )

    def milestone(state: str) -> dict[str, Any] | None:
        _, tasks = _get(f"{base}/api/tasks", auth="ada:secret")
        for task in (tasks or {}).values():
            mine = task["name"] == "milestone" and job.id in str(task.get("kwargs"))
            if mine and task.get("state") == state:
                return dict(task)
        return None

    halfway = wait_for(lambda: milestone("PROGRESS"), what="Flower to show the step's progress")
    _, info = _get(f"{base}/api/task/info/{halfway['uuid']}", auth="ada:secret")
    assert info["result"] == {"fraction": 0.5, "message": "halfway"}
    redis_client.set(f"{TEST_PREFIX}:open:{gate}", "1")
    assert job.wait(timeout=60).status == "succeeded"
    wait_for(lambda: milestone("SUCCESS"), what="the step to end as SUCCESS in Flower")

    # A wide job's steps share messages (up to 32 a message): Flower still lists each one.
    wide = {"steps": [{"id": f"w{i}", "agent": "echo", "input": {"text": "x"}} for i in range(60)]}
    job = client.submit(plan=wide)
    assert job.wait(timeout=60).status == "succeeded"
    listed: list[str] = []

    def every_step_listed() -> bool:
        _, tasks = _get(f"{base}/api/tasks", auth="ada:secret")
        listed[:] = sorted(
            str(task["kwargs"]).split("'step_id': '", 1)[1].split("'", 1)[0]
            for task in (tasks or {}).values()
            if task["name"] == "echo"
            and job.id in str(task.get("kwargs"))
            and task.get("state") == "SUCCESS"
        )
        return len(listed) == 60

    try:
        wait_for(every_step_listed, what="Flower to list each of 60 steps as an echo task")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: listed {listed}") from None
    assert listed == sorted(f"w{i}" for i in range(60))  # each once


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Flower would be open to anyone: set CELERIAC_FLOWER_BASIC_AUTH=user:password"),
        (["--address", "0.0.0.0"], "or pass --no-auth to run it without a login"),
        (["--no-auth", "--basic-auth", "a:b"], "contradict each other"),
        (["--basic-auth", "nopassword"], "must be user:password"),
    ],
)
def test_flower_refuses_to_start_without_a_login(
    deployment: Settings, args: list[str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "flower", *args],
        cwd=ROOT,
        env={**os.environ, **settings_env(deployment)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_flower_takes_its_login_from_settings_and_keeps_its_state(
    deployment: Settings, spawn: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    port = free_port()
    live = deployment.model_copy(update={"data_dir": tmp_path})
    flower = spawn(live, "flower", "--port", str(port), CELERIAC_FLOWER_BASIC_AUTH="grace:hopper")
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _get(base)[0] == 401, what="Flower to ask for a login")
    assert _get(f"{base}/api/workers", auth="grace:wrong")[0] == 401
    wait_for(lambda: _get(f"{base}/api/workers", auth="grace:hopper")[0] == 200, what="a login")
    flower.terminate()  # Flower saves its state as it stops
    flower.wait(timeout=30)
    assert list(tmp_path.glob("flower.db*")), "no state file in the data directory"


def test_a_wide_jobs_steps_share_messages_and_run_side_by_side_on_one_worker(
    isolated: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    # 48 steps go out in 16 messages of 3; each passes the barrier only when all 48 are
    # running at once, in the task threads and the threads of the steps they carry.
    live = isolated(workers=1, worker_args=["--concurrency", "48"])
    barrier = unique("wide")
    steps = [
        {"id": f"b{i}", "agent": "barrier", "input": {"name": barrier, "parties": 48}}
        for i in range(48)
    ]
    with Client(live) as client:
        result = client.submit(plan={"steps": steps}).wait(timeout=120)
    assert result.status == "succeeded", result.error
    assert {step.attempts for step in result.steps.values()} == {1}


def test_a_prefork_worker_runs_a_wide_jobs_steps_in_its_children(
    isolated: Callable[..., Settings],
) -> None:
    # A message's carried steps go out again one a message, for the pool's children.
    live = isolated(workers=1, worker_args=["--pool", "prefork", "--concurrency", "2"])
    steps = [{"id": f"e{i}", "agent": "echo", "input": {"text": f"t{i}"}} for i in range(40)]
    with Client(live) as client:
        result = client.submit(plan={"steps": steps}).wait(timeout=120)
    assert result.status == "succeeded", result.error
    assert live.redis_url
    with redis.Redis.from_url(live.redis_url, decode_responses=True) as r:
        ran = [int(r.get(f"{TEST_PREFIX}:runs:{result.job_id}:e{i}") or 0) for i in range(40)]
    assert ran == [1] * 40
    assert {step.attempts for step in result.steps.values()} == {1}
