"""The ``celeriac`` command, run as a real process.

Exit codes: 0 success, 1 a runtime failure, 2 bad usage or input; errors are
one line on stderr, and with ``--json`` stdout holds only JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from orchestrator.client import Client
from orchestrator.embedded.deployment import settings_env
from orchestrator.embedded.redis_server import free_port
from orchestrator.settings import Settings
from tests.support.cli import celeriac, environment, fails, is_running, stat_fields
from tests.support.helpers import TEST_AGENTS, indexed_jobs, wait_for
from tests.support.sample_agents import TEST_PREFIX

ROOT = Path(__file__).resolve().parents[3]
JOB_KEYS = ("job_id", "status", "answer", "usage", "steps")
USAGE_KEYS = {"prompt_tokens", "completion_tokens", "total_tokens", "cost"}
STEP_KEYS = {
    "status",
    "agent",
    "output",
    "error",
    "attempts",
    "started_at",
    "finished_at",
    "worker",
    "usage",
    "scores",
    "history",
    "approval_input",
    "approval_until",
}
DIAMOND = {
    "steps": [
        {"id": "a", "agent": "echo", "input": {"text": "hello"}},
        {"id": "b", "agent": "echo", "input": {"text": {"$from": "a", "path": "text"}}},
        {"id": "c", "agent": "echo", "input": {"text": "world"}, "depends_on": ["a"]},
        {
            "id": "d",
            "agent": "concat",
            "input": {"parts": [{"$from": "b", "path": "text"}, {"$from": "c", "path": "text"}]},
        },
    ],
    "answer_from": "d",
}


def write_plan(tmp_path: Path, plan: Any, name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(plan))
    return path


def utc(value: str) -> datetime:
    """Parse an ISO 8601 time, insisting that it is in UTC."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", value), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    return parsed


def check_result_json(document: dict[str, Any]) -> None:
    assert set(JOB_KEYS) <= set(document)
    assert isinstance(document["job_id"], str) and document["job_id"]
    assert set(document["usage"]) == USAGE_KEYS
    for step_id, step in document["steps"].items():
        assert set(step) == STEP_KEYS, step_id
        assert set(step["usage"]) == USAGE_KEYS, step_id
        for key in ("started_at", "finished_at"):
            if step[key] is not None:
                utc(step[key])


def job_count(deployment: Settings) -> int:
    assert deployment.redis_url
    with redis.Redis.from_url(deployment.redis_url) as r:
        return len(indexed_jobs(r))


# --- run: a whole job on a deployment of its own -------------------------------------------


def test_run_json_prints_only_the_job_result(tmp_path: Path) -> None:
    result = celeriac("run", "--plan", str(write_plan(tmp_path, DIAMOND, "diamond.json")), "--json")

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # nothing but the JSON on stdout
    check_result_json(document)
    assert document["status"] == "succeeded"
    assert document["answer"] == {"text": "hello world"}
    assert set(document["steps"]) == {"a", "b", "c", "d"}
    steps = document["steps"]
    for step_id, agent in (("a", "echo"), ("b", "echo"), ("c", "echo"), ("d", "concat")):
        step = steps[step_id]
        assert step["status"] == "succeeded"
        assert step["agent"] == agent
        assert step["error"] is None
        assert step["attempts"] == 1
        assert step["worker"]
        assert utc(step["started_at"]) <= utc(step["finished_at"])
    assert steps["b"]["output"] == {"text": "hello"}
    assert utc(steps["a"]["finished_at"]) <= utc(steps["b"]["started_at"])
    assert utc(steps["c"]["finished_at"]) <= utc(steps["d"]["started_at"])
    assert f"job {document['job_id']}" in result.stderr  # progress goes to stderr


def test_run_of_a_failing_plan_exits_1(tmp_path: Path) -> None:
    plan = {
        "steps": [
            {"id": "bad", "agent": "fail", "input": {"message": "disk on fire"}},
            {"id": "after", "agent": "echo", "input": {"text": {"$from": "bad", "path": "text"}}},
        ]
    }
    result = celeriac("run", "--plan", str(write_plan(tmp_path, plan)), "--json")

    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    check_result_json(document)
    assert document["status"] == "failed"
    assert document["answer"] is None
    assert document["steps"]["bad"]["status"] == "failed"
    assert document["steps"]["bad"]["error"] == "disk on fire"
    assert document["steps"]["after"]["status"] == "skipped"
    assert result.stderr.splitlines()[-1] == "error: step 'bad' failed: disk on fire"


def test_run_without_json_shows_a_table(tmp_path: Path) -> None:
    result = celeriac("run", "--plan", str(write_plan(tmp_path, DIAMOND)))
    assert result.returncode == 0, result.stderr
    assert "succeeded" in result.stdout
    assert "hello world" in result.stdout


def test_piped_tables_are_not_cut_and_a_failure_is_one_line_on_stderr(tmp_path: Path) -> None:
    long = "the disk is full, and this message is longer than any terminal of 80 columns is wide"
    plan = {
        "steps": [
            {"id": "generation_of_a_long_answer", "agent": "echo", "input": {"text": "x"}},
            {
                "id": "bad",
                "agent": "fail",
                "input": {"message": long},
                "depends_on": ["generation_of_a_long_answer"],
            },
        ]
    }
    env = {key: value for key, value in environment().items() if key != "COLUMNS"}
    result = celeriac("run", "--plan", str(write_plan(tmp_path, plan)), env=env)
    assert result.returncode == 1, result.stderr
    assert "error" not in result.stdout.replace("worker / error", "")
    assert result.stderr.splitlines()[-1] == f"error: step 'bad' failed: {long}"
    progress = [line for line in result.stderr.splitlines() if "(echo)" in line]
    assert progress and "generation_of_a_long_answer (echo)" in progress[0], result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("│ bad"))
    assert long in row  # the whole error in its cell, on one line


# --- bad input: exit 2, one line on stderr, nothing on stdout ------------------------------

BAD_PLANS: list[tuple[str, Any, str]] = [
    (
        "unknown-agent",
        {"steps": [{"id": "a", "agent": "nosuch", "input": {}}]},
        "step 'a': unknown agent 'nosuch' "
        "(known: barrier, chatty, concat, echo, fail, gate, generation, milestone, patient, "
        "poison, refund, retrieval, sleep, streamer, translation)",
    ),
    (
        "cycle",
        {
            "steps": [
                {"id": "a", "agent": "echo", "input": {"text": "x"}, "depends_on": ["b"]},
                {"id": "b", "agent": "echo", "input": {"text": {"$from": "a", "path": "text"}}},
            ]
        },
        "step 'a': the plan has a cycle: a -> b -> a ('->' means 'depends on')",
    ),
    (
        "missing-ref",
        {"steps": [{"id": "a", "agent": "echo", "input": {"text": {"$from": "zz"}}}]},
        "step 'a': input refers to unknown step 'zz'",
    ),
    (
        "missing-path",
        {
            "steps": [
                {"id": "a", "agent": "echo", "input": {"text": "x"}},
                {"id": "b", "agent": "echo", "input": {"text": {"$from": "a", "path": "nope"}}},
            ]
        },
        "step 'b': reference to step 'a' path 'nope': the output has no field 'nope' "
        "(fields: text)",
    ),
    (
        "bad-input",
        {"steps": [{"id": "a", "agent": "echo", "input": {"text": 5}}]},
        "step 'a': input is invalid for agent 'echo': text: Input should be a valid string",
    ),
]


@pytest.mark.parametrize(
    ("plan", "message"),
    [(plan, message) for _, plan, message in BAD_PLANS],
    ids=[name for name, _, _ in BAD_PLANS],
)
def test_run_refuses_an_invalid_plan(tmp_path: Path, plan: Any, message: str) -> None:
    assert fails(celeriac("run", "--plan", str(write_plan(tmp_path, plan)), "--json"), 2) == message


def test_run_refuses_a_non_json_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"steps": [\n  {"id": "a",}\n]}')
    assert fails(celeriac("run", "--plan", str(path)), 2) == (
        f"plan file {str(path)!r} is not valid JSON: "
        "Expecting property name enclosed in double quotes at line 2 column 14"
    )


def test_run_refuses_an_oversized_file(tmp_path: Path) -> None:
    path = write_plan(tmp_path, DIAMOND)
    env = environment(CELERIAC_MAX_PLAN_BYTES="64")
    assert fails(celeriac("run", "--plan", str(path), env=env), 2) == (
        f"plan file {str(path)!r} is over the limit of 64 bytes (CELERIAC_MAX_PLAN_BYTES)"
    )


def test_run_refuses_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "[draft] plan.json"  # brackets must not be taken for markup
    assert fails(celeriac("run", "--plan", str(path)), 2) == (
        f"cannot read plan file {str(path)!r}: No such file or directory"
    )


def test_an_invalid_setting_is_named(tmp_path: Path) -> None:
    env = environment(CELERIAC_STEP_LEASE_SECONDS="0", CELERIAC_REDIS_URL="localhost:6379")
    assert fails(celeriac("run", "--plan", str(write_plan(tmp_path, DIAMOND)), env=env), 2) == (
        "invalid setting CELERIAC_REDIS_URL: must start with redis://, rediss://, unix://, "
        "redis+cluster://, rediss+cluster:// (e.g. redis://localhost:6379/0); "
        "CELERIAC_STEP_LEASE_SECONDS: "
        "Input should be greater than 0"
    )


def test_an_unimportable_agent_module(tmp_path: Path) -> None:
    env = environment(CELERIAC_AGENT_MODULES="tests.no_such_agents")
    assert fails(celeriac("run", "--plan", str(write_plan(tmp_path, DIAMOND)), env=env), 2) == (
        "CELERIAC_AGENT_MODULES: cannot import 'tests.no_such_agents': "
        "No module named 'tests.no_such_agents'"
    )


def test_submit_without_a_redis_url(tmp_path: Path) -> None:
    message = fails(celeriac("submit", "--plan", str(write_plan(tmp_path, DIAMOND))), 2)
    assert message.startswith("CELERIAC_REDIS_URL is not set: point it at the deployment's Redis")


@pytest.mark.parametrize(
    "args",
    [["status", "some-job"], ["submit", "--plan", "PLAN"], ["run", "--plan", "PLAN"]],
    ids=["status", "submit", "run"],
)
def test_unreachable_redis_exits_1(tmp_path: Path, args: list[str]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    args = [str(write_plan(tmp_path, DIAMOND)) if arg == "PLAN" else arg for arg in args]
    message = fails(celeriac(*args, env=environment(CELERIAC_REDIS_URL=url)), 1)
    assert message.startswith(f"cannot reach Redis at {url}: ")
    assert message.endswith("Connection refused. Is it running, and is CELERIAC_REDIS_URL right?")


def test_worker_for_an_unknown_agent() -> None:
    assert fails(celeriac("worker", "--agent", "nosuch"), 2) == (
        "unknown agent type(s) nosuch; "
        "registered: barrier, chatty, concat, echo, fail, gate, generation, milestone, "
        "patient, poison, refund, retrieval, sleep, streamer, translation"
    )


# --- against a live deployment -------------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "result", "cancel", "watch"])
def test_a_job_that_does_not_exist(live_env: dict[str, str], command: str) -> None:
    assert fails(celeriac(command, "nosuchjob", env=live_env), 2) == (
        "no job 'nosuchjob' (it never existed, or its results have expired)"
    )


@pytest.mark.parametrize(
    ("plan", "message"),
    [(plan, message) for _, plan, message in BAD_PLANS],
    ids=[name for name, _, _ in BAD_PLANS],
)
def test_submit_of_an_invalid_plan_writes_nothing(
    tmp_path: Path, deployment: Settings, live_env: dict[str, str], plan: Any, message: str
) -> None:
    before = job_count(deployment)
    result = celeriac("submit", "--plan", str(write_plan(tmp_path, plan)), env=live_env)
    assert fails(result, 2) == message
    assert job_count(deployment) == before


def test_submit_status_cancel_result(
    tmp_path: Path,
    deployment: Settings,
    live_env: dict[str, str],
    redis_client: redis.Redis,
    unique: Callable[[str], str],
) -> None:
    gate = unique("cli")
    plan = {
        "steps": [
            {"id": "wait", "agent": "gate", "input": {"gate": gate, "timeout": 30}},
            {"id": "then", "agent": "echo", "input": {"text": "never"}, "depends_on": ["wait"]},
        ]
    }
    submitted = celeriac("submit", "--plan", str(write_plan(tmp_path, plan)), env=live_env)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", job_id), submitted.stdout
    wait_for(lambda: redis_client.llen(f"{TEST_PREFIX}:started:{gate}"), what="the gate step")

    status = celeriac("status", job_id, env=live_env)
    assert status.returncode == 0, status.stderr
    first, *plan_table = status.stdout.splitlines()
    assert first == f"{job_id} running (1 running, 1 waiting)"
    rows = [line.split("│")[1:-1] for line in plan_table if line.startswith("│")]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["wait", "gate", "", "running"],
        ["then", "echo", "wait", "waiting"],
    ]

    status_json = celeriac("status", job_id, "--json", env=live_env)
    assert status_json.returncode == 0, status_json.stderr
    document = json.loads(status_json.stdout)
    check_result_json(document)
    assert (document["status"], document["steps"]["wait"]["status"]) == ("running", "running")

    cancelled = celeriac("cancel", job_id, env=live_env)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout == f"{job_id} cancelled\n"

    redis_client.set(f"{TEST_PREFIX}:open:{gate}", 1)
    with Client(deployment) as client:
        job = client.get(job_id)
        wait_for(lambda: job.result().steps["wait"].finished_at, what="the gate step to end")

    result = celeriac("result", job_id, "--json", env=live_env)
    assert result.returncode == 1, result.stderr  # a cancelled job is not a success
    document = json.loads(result.stdout)
    check_result_json(document)
    assert document["job_id"] == job_id
    assert document["status"] == "cancelled"
    assert document["steps"]["then"]["status"] == "cancelled"


def test_submit_wait_json_then_result(tmp_path: Path, live_env: dict[str, str]) -> None:
    submitted = celeriac(
        "submit", "--plan", str(write_plan(tmp_path, DIAMOND)), "--wait", "--json", env=live_env
    )
    assert submitted.returncode == 0, submitted.stderr
    document = json.loads(submitted.stdout)
    check_result_json(document)
    assert document["status"] == "succeeded"
    assert document["answer"] == {"text": "hello world"}

    again = celeriac("result", document["job_id"], "--json", env=live_env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == document


def test_agents_lists_types_and_live_workers(live_env: dict[str, str]) -> None:
    listed = celeriac("agents", "--json", env=live_env)
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert set(document["agents"]) == {
        "barrier",
        "chatty",
        "concat",
        "echo",
        "fail",
        "gate",
        "generation",  # built in: the celeriac.agents entry points
        "milestone",
        "patient",
        "poison",
        "refund",
        "retrieval",
        "sleep",
        "streamer",
        "translation",
    }
    served = [set(info["agents"]) for info in document["workers"].values()]
    assert served and all(agents == set(document["agents"]) for agents in served)


def test_agents_shows_the_published_card_of_a_type_not_importable_here(
    isolated: Callable[..., Settings],
) -> None:
    live = isolated(agent_modules=["examples.text_agents"])  # its worker serves shout and join
    env = {**environment(**settings_env(live)), "CELERIAC_AGENT_MODULES": TEST_AGENTS}
    listed = celeriac("agents", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)["agents"]
    assert document["shout"] == {
        "description": "Returns the text in upper case.",
        "importable": False,
    }
    assert document["echo"]["importable"] is True  # registered here, served by no one

    table = celeriac("agents", env=env)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "shout" in line)
    cells = [cell.strip() for cell in row.split("│")[1:4]]
    assert cells == ["shout", "1", "Returns the text in upper case. (not importable here)"]


# --- Ctrl-C leaves nothing behind ----------------------------------------------------------


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := stat_fields(int(entry.name))):
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def private_redis_port(run_pid: int) -> int | None:
    """The port of the redis-server that ``celeriac run`` started, once it has."""
    for pid in descendants(run_pid):
        line = command_line(pid)
        if "redis-server" in line:
            # redis-server retitles itself "redis-server 127.0.0.1:PORT"
            match = re.search(r"--port (\d+)|:(\d+)", line)
            if match:
                return int(match.group(1) or match.group(2))
    return None


def gate_entered(r: redis.Redis, gate: str) -> bool:
    try:
        return bool(r.llen(f"{TEST_PREFIX}:started:{gate}"))
    except redis.ConnectionError:  # the server is not listening yet
        return False


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupted_run_exits_and_leaves_no_process(tmp_path: Path) -> None:
    plan = {"steps": [{"id": "stuck", "agent": "gate", "input": {"gate": "never", "timeout": 60}}]}
    path = write_plan(tmp_path, plan)
    with (tmp_path / "stdout").open("w+") as out, (tmp_path / "stderr").open("w+") as err:
        run = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "run", "--plan", str(path)],
            cwd=ROOT,
            env={**environment(), "PYTHONFAULTHANDLER": "1"},  # its stacks on SIGABRT
            stdout=out,
            stderr=err,
            start_new_session=True,  # a process group of its own, as a shell gives a command
            # with Ctrl-C at its default too: a suite started in the background of a script
            # inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
            preexec_fn=_default_sigint,
        )
        try:
            port = wait_for(lambda: private_redis_port(run.pid), what="the private redis-server")
            with redis.Redis(port=port, decode_responses=True) as r:
                wait_for(lambda: gate_entered(r, "never"), what="the step to block")
            children = descendants(run.pid)
            lines = {pid: command_line(pid) for pid in children}
            assert any("redis-server" in line for line in lines.values()), lines
            assert any("orchestrator worker" in line for line in lines.values()), lines

            os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
            # Promptly: the cancelled job's blocked step is not waited for.
            try:
                code = run.wait(timeout=8)
            except subprocess.TimeoutExpired:  # where did it wait?
                run.send_signal(signal.SIGABRT)
                run.wait(timeout=10)
                err.seek(0)
                raise AssertionError(f"still running 8 s after Ctrl-C:\n{err.read()}") from None
        finally:
            if run.poll() is None:  # the test failed: take down what it started
                for pid in descendants(run.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                run.kill()
                run.wait()
        err.seek(0)
        stderr = err.read()

    assert code == 130, stderr
    assert stderr.splitlines()[-1] == "interrupted"
    wait_for(
        lambda: not [pid for pid in children if is_running(pid)],
        timeout=15,
        what=f"the run's children {sorted(children)} to end",
    )


def test_watch_follows_a_job_until_it_ends(
    tmp_path: Path,
    live_env: dict[str, str],
    redis_client: redis.Redis,
    unique: Callable[[str], str],
) -> None:
    gate = unique("watch")
    plan = {
        "steps": [
            {"id": "wait", "agent": "gate", "input": {"gate": gate, "timeout": 30}},
            {"id": "then", "agent": "echo", "input": {"text": "x"}, "depends_on": ["wait"]},
        ]
    }
    submitted = celeriac("submit", "--plan", str(write_plan(tmp_path, plan)), env=live_env)
    job_id = submitted.stdout.strip()
    watcher = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "watch", job_id],
        cwd=ROOT,
        env=live_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: redis_client.llen(f"{TEST_PREFIX}:started:{gate}"), what="the gate")
        assert watcher.poll() is None  # still watching a running job
        redis_client.set(f"{TEST_PREFIX}:open:{gate}", 1)
        out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    assert "wait (gate)" in out and "then (echo)" in out  # one progress row per step
    assert out.rstrip().endswith(f"{job_id} succeeded (2 succeeded)")


def test_submit_records_the_job_budget(
    tmp_path: Path, deployment: Settings, live_env: dict[str, str]
) -> None:
    plan = write_plan(tmp_path, {"steps": [{"id": "a", "agent": "echo", "input": {"text": "x"}}]})
    submitted = celeriac(
        "submit",
        "--plan",
        str(plan),
        "--budget-tokens",
        "500",
        "--budget-cost",
        "0.25",
        env=live_env,
    )
    assert submitted.returncode == 0, submitted.stderr
    with Client(deployment) as client:
        _, budget = client.runtime.store.spending(submitted.stdout.strip())
    assert (budget.tokens, budget.cost) == (500, 0.25)
    refused = celeriac("submit", "--plan", str(plan), "--budget-tokens", "0", env=live_env)
    assert refused.returncode == 2 and "budget-tokens" in refused.stderr


def test_dead_letters_lists_steps_that_failed_for_good(
    tmp_path: Path, live_env: dict[str, str]
) -> None:
    plan = {"steps": [{"id": "f", "agent": "fail", "input": {"message": "for good"}}]}
    submitted = celeriac(
        "submit", "--plan", str(write_plan(tmp_path, plan)), "--wait", "--json", env=live_env
    )
    assert submitted.returncode == 1  # the job failed
    job_id = json.loads(submitted.stdout)["job_id"]
    listed = celeriac("dead-letters", "--json", env=live_env)
    assert listed.returncode == 0, listed.stderr
    (letter,) = [d for d in json.loads(listed.stdout) if d["job_id"] == job_id]
    assert (letter["step_id"], letter["agent"], letter["error"]) == ("f", "fail", "for good")
    utc(letter["at"])
