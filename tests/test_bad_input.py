"""The bad-input census: every kind of wrong input, on every surface, in one place.

Each case checks three things: a clear error (the project's ``UserError`` family in the
SDK; exit code 2 in the CLI, a message on stderr naming what was wrong and what to do,
and no traceback), that nothing was written (no job in Redis, no file in the data dir or
outside it), and that nothing crashed (the shared deployment's workers are still alive;
the last test runs a good job on them). The surfaces: the SDK, the CLI, plan files,
agent inputs, settings, and messages on the wire. The pickled message is in
tests/integration/test_jobs.py (``test_workers_refuse_pickled_messages``).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from kombu import Queue

from agents.errors import CeleriacError, RegistryError
from orchestrator import names
from orchestrator.client import Client
from orchestrator.embedded.deployment import settings_env
from orchestrator.errors import ConfigError, PlanError, UserError
from orchestrator.settings import Settings
from tests.support.cli import celeriac, is_running
from tests.support.helpers import indexed_jobs, wait_for
from tests.support.sample_agents import TEST_PREFIX


def echo(step_id: str, text: Any = "hi", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "agent": "echo", "input": {"text": text}, **extra}


def one(*steps: dict[str, Any], **plan: Any) -> dict[str, Any]:
    return {"steps": list(steps), **plan}


def job_ids(r: redis.Redis) -> set[str]:
    """Every job Redis holds anything of: in the jobs index or in any job key."""
    keys: list[str] = list(r.scan_iter(f"{names.PREFIX}:job:*", count=1000))
    return {key.rsplit("}:", 1)[1].split(":", 1)[0] for key in keys} | set(indexed_jobs(r))


def files_under(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def names_in(directory: Path) -> set[str]:
    return {path.name for path in directory.iterdir()} if directory.is_dir() else set()


# --- the SDK: Client.submit and Client.plan -------------------------------------------------

GOAL = "What is sync?"
GOOD = one(echo("a"))
Call = Callable[[Client], object]


def submit(plan: Any = None, **options: Any) -> Call:
    return lambda client: client.submit(plan, **options)


def preview(goal: Any, **options: Any) -> Call:
    return lambda client: client.plan(goal, **options)


def many(count: int) -> dict[str, Any]:
    return one(*(echo(f"s{index}") for index in range(count)))


NAME_RULE = "is not a collection name: use 1-64 lowercase letters, digits, '-' and '_'"
SDK_CASES = [
    pytest.param(submit(goal=""), UserError, "the goal is empty", id="goal-empty"),
    pytest.param(
        submit(goal="why " * 5_001),
        UserError,
        "the goal is 20004 characters long; at most 20000 are allowed (CELERIAC_MAX_GOAL_CHARS)",
        id="goal-over-max-goal-chars",
    ),
    pytest.param(submit(goal=42), UserError, "the goal must be a string, not int", id="goal-int"),
    pytest.param(
        submit(goal=b"What is sync?"), UserError, "must be a string, not bytes", id="goal-bytes"
    ),
    pytest.param(preview(["What", "is", "sync"]), UserError, "not list", id="plan-of-goal-list"),
    pytest.param(preview("  \n "), UserError, "the goal is empty", id="plan-of-goal-blank"),
    pytest.param(submit(GOOD, goal=GOAL), UserError, "exactly one of them", id="goal-and-plan"),
    pytest.param(
        submit({"steps": []}),
        PlanError,
        "steps: List should have at least 1 item after validation, not 0",
        id="plan-empty",
    ),
    pytest.param(
        submit("steps: []"), PlanError, "a plan must be a JSON object, not a string", id="plan-str"
    ),
    pytest.param(
        submit({"steps": {"a": echo("a")}}),
        PlanError,
        "steps: must be a JSON list",
        id="steps-dict",
    ),
    pytest.param(
        submit(one({"id": 7, "agent": ["echo"], "input": "hi", "depends_on": "a"})),
        PlanError,
        "step #1: id: Input should be a valid string; step #1: agent: Input should be a valid "
        "string; step #1: input: must be a JSON object; step #1: depends_on: must be a JSON list",
        id="step-fields-of-wrong-types",
    ),
    pytest.param(
        submit(one({"id": "a", "agnet": "echo"})),
        PlanError,
        "step 'a': agent: Field required; step 'a': agnet: unknown field",
        id="step-misspelt-field",
    ),
    pytest.param(
        submit(one({"id": "a", "agent": "ecko", "input": {"text": "hi"}})),
        PlanError,
        "step 'a': unknown agent 'ecko' (known: barrier, chatty, concat, echo, fail, gate, "
        "generation, milestone, patient, poison, refund, retrieval, sleep, streamer, "
        "translation)",
        id="unknown-agent",
    ),
    pytest.param(
        submit(one(echo("a", depends_on=["b"]), echo("b", {"$from": "a", "path": "text"}))),
        PlanError,
        "step 'a': the plan has a cycle: a -> b -> a ('->' means 'depends on')",
        id="cycle",
    ),
    pytest.param(
        submit(one(echo("a", depends_on=["a"]))),
        PlanError,
        "step 'a': depends on itself",
        id="self-dependency",
    ),
    pytest.param(
        submit(one(echo("a", depends_on=["x"]))),
        PlanError,
        "step 'a': depends on unknown step 'x'",
        id="depends-on-unknown-step",
    ),
    pytest.param(
        submit(one(echo("a", {"$from": "zz", "path": "text"}))),
        PlanError,
        "step 'a': input refers to unknown step 'zz'",
        id="from-unknown-step",
    ),
    pytest.param(
        submit(one(echo("a", {"$from": 1}))),
        PlanError,
        "step 'a': bad reference: '$from' must be a step id",
        id="from-not-a-step-id",
    ),
    pytest.param(
        submit(one(echo("a"), echo("a"))),
        PlanError,
        "step 'a': id is used twice",
        id="duplicate-ids",
    ),
    pytest.param(
        submit(one(echo("../a"))),
        PlanError,
        "step '../a': id: must be 1 to 64 letters, digits, '_', '.' or '-'",
        id="step-id-traversal",
    ),
    pytest.param(
        submit(GOOD | {"answer_from": "nope"}),
        PlanError,
        "answer_from names unknown step 'nope'",
        id="answer-from-unknown-step",
    ),
    pytest.param(
        submit(many(1001)),
        PlanError,
        "the plan has 1001 steps; at most 1000 are allowed",
        id="steps-over-max-plan-steps",
    ),
    pytest.param(
        submit(one(echo("a", "x" * 1_000_000))),
        PlanError,
        "bytes as JSON, over the limit of 1000000 bytes (CELERIAC_MAX_PLAN_BYTES)",
        id="plan-over-max-plan-bytes",
    ),
    pytest.param(
        submit(one(echo("a", object()))),
        PlanError,
        "the plan is not JSON: Unable to serialize unknown type",
        id="plan-not-json",
    ),
    pytest.param(submit(goal=GOAL, collection="../x"), UserError, NAME_RULE, id="collection-../x"),
    pytest.param(submit(goal=GOAL, collection="/etc"), UserError, NAME_RULE, id="collection-/etc"),
    pytest.param(submit(goal=GOAL, collection="a/b"), UserError, NAME_RULE, id="collection-a/b"),
    pytest.param(submit(goal=GOAL, collection=""), UserError, NAME_RULE, id="collection-empty"),
    pytest.param(
        submit(goal=GOAL, collection="x" * 65), UserError, NAME_RULE, id="collection-65-chars"
    ),
    pytest.param(preview(GOAL, collection="../x"), UserError, NAME_RULE, id="plan-collection-../x"),
    pytest.param(
        submit(goal=GOAL, collection=5),
        UserError,
        "collection must be a collection's name (a string), not int",
        id="collection-int",
    ),
    pytest.param(
        submit(GOOD, collection="demo"),
        UserError,
        "collection goes with a goal",
        id="plan-collection",
    ),
    pytest.param(
        submit(GOOD, budget={"tokens": -1}),
        UserError,
        "invalid budget: tokens: Input should be greater than 0",
        id="budget-negative-tokens",
    ),
    pytest.param(
        submit(GOOD, budget={"cost": -0.5}),
        UserError,
        "invalid budget: cost: Input should be greater than 0",
        id="budget-negative-cost",
    ),
    pytest.param(
        submit(GOOD, budget={"tokens": "lots"}),
        UserError,
        "invalid budget: tokens: Input should be a valid integer",
        id="budget-tokens-str",
    ),
    pytest.param(
        submit(GOOD, budget={"token": 5}),
        UserError,
        "invalid budget: token: unknown field (a budget has tokens and/or cost, each above 0)",
        id="budget-misspelt",
    ),
    pytest.param(
        submit(GOOD, budget=500),
        UserError,
        "budget must be a Budget or a mapping such as {'tokens': 10000, 'cost': 0.5}, not int",
        id="budget-int",
    ),
    pytest.param(
        submit(GOOD, threshold=1.5),
        UserError,
        "the threshold must be between 0 and 1 (scores are), not 1.5",
        id="threshold-over-1",
    ),
    pytest.param(
        submit(GOOD, threshold=-0.1), UserError, "between 0 and 1", id="threshold-negative"
    ),
    pytest.param(submit(GOOD, threshold=float("nan")), UserError, "not nan", id="threshold-nan"),
    pytest.param(
        submit(GOOD, threshold="0.5"),
        UserError,
        "the threshold must be a number between 0 and 1, not '0.5'",
        id="threshold-str",
    ),
    pytest.param(
        submit(GOOD, approval="yes"),
        UserError,
        "approval must be 'plan' or 'none', not 'yes'",
        id="approval-unknown",
    ),
    pytest.param(
        submit(GOOD, approval="plan", approval_timeout=0),
        UserError,
        "approval_timeout must be a number of seconds above 0, not 0",
        id="approval-timeout-0",
    ),
    pytest.param(
        submit(GOOD, approval_timeout="1h"),
        UserError,
        "approval_timeout must be a number of seconds above 0, not '1h'",
        id="approval-timeout-str",
    ),
]


@pytest.mark.parametrize(("call", "error", "message"), SDK_CASES)
def test_sdk(
    client: Client, redis_client: redis.Redis, call: Call, error: type[Exception], message: str
) -> None:
    before = job_ids(redis_client)
    with pytest.raises(error) as caught:
        call(client)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert job_ids(redis_client) == before


# --- the CLI ---------------------------------------------------------------------------------

CLI_CASES = [
    pytest.param(["submit", ""], {}, "the goal is empty", id="submit-goal-empty"),
    pytest.param(["run", "   "], {}, "the goal is empty", id="run-goal-blank"),
    pytest.param(
        ["submit", "why " * 5_001],
        {},
        "the goal is 20004 characters long; at most 20000 are allowed (CELERIAC_MAX_GOAL_CHARS)",
        id="submit-goal-over-max-goal-chars",
    ),
    pytest.param(["run", GOAL, "--collection", "../x"], {}, NAME_RULE, id="run-collection-../x"),
    pytest.param(
        ["run", GOAL, "--collection", "nope"],
        {},
        "no collection 'nope' in TMP/data/collections (there are none yet); create it with "
        "`celeriac index nope PATH...`",
        id="run-collection-unknown",  # before a worker starts, not when its step fails
    ),
    pytest.param(
        ["submit", GOAL, "--collection", "/etc"], {}, NAME_RULE, id="submit-collection-/etc"
    ),
    pytest.param(["plan", GOAL, "--collection", "a/b"], {}, NAME_RULE, id="plan-collection-a/b"),
    pytest.param(["plan", GOAL, "--collection", ""], {}, NAME_RULE, id="plan-collection-empty"),
    pytest.param(
        ["submit", GOAL, "--collection", "x" * 65], {}, NAME_RULE, id="submit-collection-65-chars"
    ),
    pytest.param(["index", "../x", "TMP/docs"], {}, NAME_RULE, id="index-../x"),
    pytest.param(["index", "/etc", "TMP/docs"], {}, NAME_RULE, id="index-/etc"),
    pytest.param(["index", "a/b", "TMP/docs"], {}, NAME_RULE, id="index-a/b"),
    pytest.param(["index", "x" * 65, "TMP/docs"], {}, NAME_RULE, id="index-65-chars"),
    pytest.param(
        ["index", "", "TMP/docs"],
        {},
        "give a name and what to index: `celeriac index NAME PATH...`",
        id="index-name-empty",
    ),
    pytest.param(
        ["run", GOAL, "--docs", "TMP/no/such"],
        {},
        "--docs: TMP/no/such: no such file or directory",
        id="docs-missing",
    ),
    pytest.param(
        ["run", GOAL, "--docs", "TMP/docs/../../../no-such"],
        {},
        "--docs: TMP/docs/../../../no-such: no such file or directory",
        id="docs-traversal-to-nothing",
    ),
    pytest.param(
        ["run", GOAL, "--docs", "TMP/pictures"],
        {},
        "--docs: no .txt, .md or .jsonl documents in TMP/pictures",
        id="docs-without-documents",
    ),
    pytest.param(
        ["run", GOAL, "--docs", "TMP/manual.pdf"],
        {},
        "--docs: TMP/manual.pdf: unsupported file type '.pdf'; give .txt, .md or .jsonl files",
        id="docs-unsupported-file",
    ),
    pytest.param(
        ["run", GOAL, "--docs", "TMP/latin1.md"],
        {},
        "--docs: TMP/latin1.md: not UTF-8 text (invalid continuation byte at byte 5)",
        id="docs-not-utf8",
    ),
    pytest.param(
        ["submit", "--plan", "TMP/good.json", "--approval-timeout", "0"],
        {},
        "Invalid value for '--approval-timeout'",
        id="approval-timeout-0",
    ),
    pytest.param(["approve", "nosuchjob"], {}, "no job 'nosuchjob'", id="approve-unknown-job"),
    pytest.param(
        ["reject", "nosuchjob"], {}, "Missing option '--reason'", id="reject-without-reason"
    ),
    pytest.param(
        ["approve", "nosuchjob", "--plan", "TMP/missing.json"],
        {},
        "TMP/missing.json",
        id="approve-plan-file-missing",
    ),
    pytest.param(
        ["submit", "--plan", "TMP/good.json", "--threshold", "1.5"],
        {},
        "Invalid value for '--threshold'",
        id="threshold-over-1",
    ),
    pytest.param(
        ["submit", "--plan", "TMP/good.json", "--threshold", "high"],
        {},
        "Invalid value for '--threshold'",
        id="threshold-str",
    ),
    pytest.param(
        ["submit", "--plan", "TMP/good.json", "--budget-tokens", "-5"],
        {},
        "Invalid value for '--budget-tokens'",
        id="budget-negative-tokens",
    ),
    pytest.param(
        ["submit", "--plan", "TMP/good.json", "--budget-cost", "cheap"],
        {},
        "Invalid value for '--budget-cost'",
        id="budget-cost-str",
    ),
    pytest.param(
        ["submit", "--plan", "TMP/good.json"],
        {"CELERIAC_MAX_PLAN_STEP": "5"},
        "unknown setting CELERIAC_MAX_PLAN_STEP; did you mean CELERIAC_MAX_PLAN_STEPS?",
        id="setting-misspelt",
    ),
    pytest.param(
        ["submit", "--plan", "TMP/good.json"],
        {"CELERIAC_LLM_PRICES": "cheap"},
        "invalid setting CELERIAC_LLM_PRICES: must be a JSON object of each model's USD prices",
        id="setting-llm-prices-not-json",
    ),
]


def make_inputs(root: Path) -> None:
    """What the CLI cases name under TMP: documents, files of other kinds, a good plan."""
    (root / "docs").mkdir()
    (root / "docs" / "sync.md").write_text("# Sync\nNotes sync every minute.\n")
    (root / "pictures").mkdir()
    (root / "pictures" / "logo.png").write_bytes(b"\x89PNG")
    (root / "manual.pdf").write_bytes(b"%PDF")
    (root / "latin1.md").write_bytes("# Café\n".encode("latin-1"))
    (root / "good.json").write_text(json.dumps(GOOD))


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The stderr of a command refused as bad input: exit 2, nothing on stdout, no traceback,
    and either one line "error: ..." or a usage error that says where to get help."""
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    if lines[0].startswith("error: "):
        assert len(lines) == 1, result.stderr
    else:
        assert "Try 'python -m orchestrator " in result.stderr and "--help" in result.stderr
    return result.stderr


@pytest.mark.parametrize(("args", "env", "message"), CLI_CASES)
def test_cli(
    tmp_path: Path,
    live_env: dict[str, str],
    redis_client: redis.Redis,
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    make_inputs(tmp_path)
    data = tmp_path / "data"
    files = files_under(tmp_path)
    before = job_ids(redis_client)
    command = [arg.replace("TMP", str(tmp_path)) for arg in args]
    result = celeriac(*command, env={**live_env, "CELERIAC_DATA_DIR": str(data), **env})
    assert message.replace("TMP", str(tmp_path)) in refused(result)
    assert job_ids(redis_client) == before
    assert files_under(tmp_path) == files  # nothing in the data dir, nothing beside it
    assert not data.exists()


# --- plan files: celeriac submit --plan FILE ---------------------------------------------------

PLAN_FILE_CASES = [
    pytest.param(
        b"steps:\n  - id: a\n    agent: echo\n",
        {},
        "is not valid JSON: Expecting value at line 1 column 1",
        id="yaml",
    ),
    pytest.param(
        '{"steps": [{"id": "a", "agent": "echo", "input": {"text": "café"}}]}'.encode("latin-1"),
        {},
        "is not UTF-8 text: invalid continuation byte at byte 62",
        id="not-utf8",
    ),
    pytest.param(b"", {}, "is not valid JSON: Expecting value at line 1 column 1", id="empty-file"),
    pytest.param(
        b"[]", {}, "must hold a JSON object with 'steps', not a list", id="top-level-list"
    ),
    pytest.param(
        b'{"steps": [{"id": "a", "agent": "echo", "input": {"text": NaN}}]}',
        {},
        "is not valid JSON: NaN is not a JSON value",
        id="nan",
    ),
    pytest.param(None, {}, "cannot read plan file 'FILE': No such file or directory", id="missing"),
    pytest.param("dir", {}, "cannot read plan file 'FILE': Is a directory", id="directory"),
    pytest.param(
        json.dumps(GOOD).encode(),
        {"CELERIAC_MAX_PLAN_BYTES": "32"},
        "plan file 'FILE' is over the limit of 32 bytes (CELERIAC_MAX_PLAN_BYTES)",
        id="over-max-plan-bytes",
    ),
    pytest.param(
        json.dumps(many(3)).encode(),
        {"CELERIAC_MAX_PLAN_STEPS": "2"},
        "the plan has 3 steps; at most 2 are allowed",
        id="over-max-plan-steps",
    ),
    pytest.param(
        b'{"steps": []}',
        {},
        "invalid plan: steps: List should have at least 1 item after validation, not 0",
        id="no-steps",
    ),
    pytest.param(
        json.dumps(one({"id": "a", "agent": "echo", "input": ["hi"]})).encode(),
        {},
        "invalid plan: step 'a': input: must be a JSON object",
        id="input-of-wrong-type",
    ),
]


@pytest.mark.parametrize(("content", "env", "message"), PLAN_FILE_CASES)
def test_plan_file(
    tmp_path: Path,
    live_env: dict[str, str],
    redis_client: redis.Redis,
    content: bytes | str | None,
    env: dict[str, str],
    message: str,
) -> None:
    path = tmp_path / "plan.json"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    files = files_under(tmp_path)
    before = job_ids(redis_client)
    result = celeriac("submit", "--plan", str(path), env={**live_env, **env})
    assert message.replace("FILE", str(path)) in refused(result)
    assert job_ids(redis_client) == before
    assert files_under(tmp_path) == files


# --- agent inputs: refused at submit when static, failing their step when they come from
# another step's output ----------------------------------------------------------------------


def search(step_id: str = "s", **fields: Any) -> dict[str, Any]:
    return {"id": step_id, "agent": "retrieval", "input": {"query": "password", **fields}}


AGENT_INPUT_CASES = [
    pytest.param(
        one(echo("a", 5)),
        None,
        "step 'a': input is invalid for agent 'echo': text: Input should be a valid string",
        id="echo-text-int",
    ),
    pytest.param(
        one({"id": "a", "agent": "echo", "input": {}}),
        None,
        "step 'a': input is invalid for agent 'echo': text: Field required",
        id="echo-text-missing",
    ),
    pytest.param(
        one({"id": "a", "agent": "concat", "input": {"parts": "a b"}}),
        None,
        "step 'a': input is invalid for agent 'concat': parts: must be a JSON list",
        id="concat-parts-str",
    ),
    pytest.param(
        one(search(collection="demo", colour="red")),
        None,
        "step 's': input is invalid for agent 'retrieval': colour: unknown field",
        id="retrieval-extra-field",
    ),
    pytest.param(
        one(search(collection="demo", k=0)),
        None,
        "k: Input should be greater than or equal to 1",
        id="retrieval-k-0",
    ),
    pytest.param(
        one(search(collection="demo", k=101)),
        None,
        "k: Input should be less than or equal to 100",
        id="retrieval-k-101",
    ),
    pytest.param(
        one(search(collection="demo", mode="fuzzy")),
        None,
        "mode: Input should be 'bm25', 'dense', 'hybrid' or 'auto'",
        id="retrieval-mode-unknown",
    ),
    pytest.param(
        one(search(collection="../etc")),
        None,
        "collection: '../etc' " + NAME_RULE,
        id="retrieval-collection-../etc",
    ),
    pytest.param(
        one(search(collection="/etc")),
        None,
        "collection: '/etc' " + NAME_RULE,
        id="retrieval-collection-/etc",
    ),
    pytest.param(
        one(search()),
        None,
        "step 's': input is invalid for agent 'retrieval': collection: Field required",
        id="retrieval-collection-missing",
    ),
    pytest.param(
        one({"id": "g", "agent": "generation", "input": {"instruction": "x", "max_words": -1}}),
        None,
        "max_words: Input should be greater than or equal to 1",
        id="generation-max-words-negative",
    ),
    pytest.param(
        one({"id": "t", "agent": "translation", "input": {"text": "hi", "target_lang": "tlh"}}),
        None,
        "target_lang: unknown language code 'tlh': use an ISO 639-1 or 639-3 code",
        id="translation-unknown-language",
    ),
    # From upstream outputs: checked when the step runs; it fails at once (no retries).
    pytest.param(
        one(echo("a"), echo("b", {"$from": "a"})),
        "b",
        "input is invalid for agent 'echo': text: Input should be a valid string",
        id="runtime-echo-text-object",
    ),
    pytest.param(
        one(search(collection="demo", k=1), echo("e", {"$from": "s", "path": "hits.3.text"})),
        "e",
        "reference to step 's' path 'hits.3.text': index 3 is out of range (the list has 1 items)",
        id="runtime-index-out-of-range",
    ),
    pytest.param(
        one(echo("n", "../../etc"), search(collection={"$from": "n", "path": "text"})),
        "s",
        "'../../etc' " + NAME_RULE,
        id="runtime-collection-traversal",
    ),
    pytest.param(
        one(search(collection="nope")),
        "s",
        "no collection 'nope' in ",
        id="runtime-collection-unknown",
    ),
]


@pytest.mark.parametrize(("plan", "failing", "message"), AGENT_INPUT_CASES)
def test_agent_input(
    client: Client,
    redis_client: redis.Redis,
    deployment: Settings,
    plan: dict[str, Any],
    failing: str | None,
    message: str,
) -> None:
    before = job_ids(redis_client)
    collections = deployment.data_dir / "collections"
    stored, beside = names_in(collections), names_in(deployment.data_dir.parent)
    if failing is None:
        with pytest.raises(PlanError) as caught:
            client.submit(plan)
        assert message in str(caught.value)
        assert job_ids(redis_client) == before
        return
    result = client.submit(plan).wait(timeout=60)
    assert result.status in ("failed", "partial")
    step = result.steps[failing]
    assert (step.status, step.attempts) == ("failed", 1), step
    assert message in (step.error or "")
    assert "\n" not in (step.error or "")  # one line, as results and `celeriac status` show it
    others = {sid: s.status for sid, s in result.steps.items() if sid != failing}
    assert set(others.values()) <= {"succeeded"}
    assert names_in(collections) - stored <= {"demo", ".building"}  # demo: built on first use
    assert names_in(deployment.data_dir.parent) == beside


# --- settings: CELERIAC_* variables, read by Client() --------------------------------------

SETTINGS_CASES = [
    pytest.param(
        {"CELERIAC_MAX_PLAN_STEP": "5"},
        ConfigError,
        "unknown setting CELERIAC_MAX_PLAN_STEP; did you mean CELERIAC_MAX_PLAN_STEPS?",
        id="misspelt",
    ),
    pytest.param(
        {"CELERIAC_COLOUR": "blue"}, ConfigError, "unknown setting CELERIAC_COLOUR", id="unknown"
    ),
    pytest.param(
        {"CELERIAC_MAX_GOAL_CHARS": "lots"},
        ConfigError,
        "invalid setting CELERIAC_MAX_GOAL_CHARS: Input should be a valid integer",
        id="int-not-a-number",
    ),
    pytest.param(
        {"CELERIAC_STEP_MAX_ATTEMPTS": "0"},
        ConfigError,
        "invalid setting CELERIAC_STEP_MAX_ATTEMPTS: Input should be greater than or equal to 1",
        id="int-out-of-range",
    ),
    pytest.param(
        {"CELERIAC_STEP_LEASE_SECONDS": "-1"},
        ConfigError,
        "invalid setting CELERIAC_STEP_LEASE_SECONDS: Input should be greater than 0",
        id="seconds-negative",
    ),
    pytest.param(
        {"CELERIAC_SCORING": "maybe"},
        ConfigError,
        "invalid setting CELERIAC_SCORING: Input should be a valid boolean",
        id="bool-not-a-bool",
    ),
    pytest.param(
        {"CELERIAC_LLM_BACKEND": "gpt"},
        ConfigError,
        "invalid setting CELERIAC_LLM_BACKEND: Input should be 'auto', 'openai' or 'offline'",
        id="choice-unknown",
    ),
    pytest.param(
        {"CELERIAC_REDIS_URL": "localhost:6379"},
        ConfigError,
        "invalid setting CELERIAC_REDIS_URL: must start with redis://, rediss://, unix://",
        id="redis-url-without-scheme",
    ),
    pytest.param(
        {"CELERIAC_LLM_PRICES": "cheap"},
        ConfigError,
        "invalid setting CELERIAC_LLM_PRICES: must be a JSON object of each model's USD prices "
        'per million input and output tokens, e.g. {"gpt-4o-mini": [0.15, 0.6]}',
        id="llm-prices-not-json",
    ),
    pytest.param(
        {"CELERIAC_LLM_PRICES": '{"gpt-4o-mini": [0.15]}'},
        ConfigError,
        "invalid setting CELERIAC_LLM_PRICES: must be a JSON object",
        id="llm-prices-one-price",
    ),
    pytest.param(
        {"CELERIAC_METRICS_PORT": "99999"},
        ConfigError,
        "invalid setting CELERIAC_METRICS_PORT: Input should be less than or equal to 65535",
        id="port-out-of-range",
    ),
    pytest.param(
        {"CELERIAC_APPROVAL": "always"},
        ConfigError,
        "invalid setting CELERIAC_APPROVAL: Input should be 'none' or 'plan'",
        id="approval-unknown",
    ),
    pytest.param(
        {"CELERIAC_FLOWER_BASIC_AUTH": "admin"},
        ConfigError,
        "invalid setting CELERIAC_FLOWER_BASIC_AUTH: must be user:password",
        id="login-without-password",
    ),
    pytest.param(
        {"CELERIAC_AGENT_MODULES": "my agents"},
        ConfigError,
        "invalid setting CELERIAC_AGENT_MODULES: 'my agents' is not a module name",
        id="agent-modules-not-a-name",
    ),
    pytest.param(
        {"CELERIAC_AGENT_MODULES": "tests.no_such_agents"},
        RegistryError,
        "CELERIAC_AGENT_MODULES: cannot import 'tests.no_such_agents'",
        id="agent-modules-missing",
    ),
]


@pytest.mark.parametrize(("env", "error", "message"), SETTINGS_CASES)
def test_settings(
    monkeypatch: pytest.MonkeyPatch,
    deployment: Settings,
    redis_client: redis.Redis,
    env: dict[str, str],
    error: type[CeleriacError],
    message: str,
) -> None:
    for name, value in {**settings_env(deployment), **env}.items():
        monkeypatch.setenv(name, value)
    before = job_ids(redis_client)
    with pytest.raises(error) as caught:
        Client()
    assert message in str(caught.value)
    assert job_ids(redis_client) == before


# --- the wire: messages no celeriac publisher sends -----------------------------------------

Send = Callable[[Client, redis.Redis, str], None]
QUEUE = names.agent_queue("echo")


def task(name: str = names.TASK_RUN_STEP, queue: str = QUEUE, **message: Any) -> Send:
    """A JSON task message; ``JOB`` in its kwargs stands for the running job's id."""

    def send(client: Client, r: redis.Redis, job_id: str) -> None:
        options = dict(message)
        kwargs = {
            key: job_id if value == "JOB" else [job_id] if value == ["JOB"] else value
            for key, value in options.pop("kwargs", {}).items()
        }
        client.runtime.app.send_task(name, queue=queue, kwargs=kwargs, **options)

    return send


def body(raw: bytes, content_type: str = "application/json") -> Send:
    """A kombu message for run_step whose body is ``raw``."""

    def send(client: Client, r: redis.Redis, job_id: str) -> None:
        headers = {"task": names.TASK_RUN_STEP, "id": uuid.uuid4().hex, "lang": "py"}
        with client.runtime.app.producer_or_acquire() as producer:
            producer.publish(
                raw,
                routing_key=QUEUE,
                exchange="",
                content_type=content_type,
                content_encoding="utf-8",
                headers=headers,
                declare=[Queue(QUEUE)],
            )

    return send


def entry(raw: str) -> Send:
    """``raw`` pushed onto the queue's Redis list as it is: not even a kombu message."""

    def send(client: Client, r: redis.Redis, job_id: str) -> None:
        r.lpush(QUEUE, raw)

    return send


def step_kwargs(**changes: Any) -> dict[str, Any]:
    return {"job_id": "JOB", "step_id": "wait", "dispatch": 1, "agent": "gate", **changes}


WIRE_CASES = [
    pytest.param(body(b"{not json"), id="body-not-json"),
    pytest.param(body(b"\xff\xfe"), id="body-not-utf8"),
    pytest.param(body(b"5"), id="body-json-not-a-task"),
    pytest.param(body(b"[[], [], null]"), id="body-kwargs-not-a-mapping"),
    pytest.param(body(b"- [1, 2]", "application/x-yaml"), id="body-yaml"),
    pytest.param(entry("not a kombu message"), id="queue-entry-not-json"),
    pytest.param(entry('{"body": "e30="}'), id="queue-entry-json-not-a-message"),
    pytest.param(task(kwargs=step_kwargs(dispatch="one")), id="dispatch-str"),
    pytest.param(task(kwargs=step_kwargs(dispatch=None)), id="dispatch-null"),
    pytest.param(task(kwargs=step_kwargs(dispatch=[1])), id="dispatch-list"),
    pytest.param(
        task(kwargs={"job_id": ["JOB"], "step_id": {"a": 1}, "dispatch": 1.5, "agent": 7}),
        id="ids-of-wrong-types",
    ),
    pytest.param(task(kwargs={"job_id": "JOB"}), id="arguments-missing"),
    pytest.param(task(kwargs=step_kwargs(extra=1)), id="argument-unknown"),
    pytest.param(task(args=[1, 2, 3, 4, 5, 6]), id="too-many-positional-arguments"),
    pytest.param(task("celeriac.no_such_task"), id="unknown-task"),
    pytest.param(
        task(names.TASK_PLAN, names.ORCHESTRATOR_QUEUE, kwargs={"job_id": ["JOB"]}),
        id="plan-job-id-list",
    ),
    pytest.param(
        task(names.TASK_FINALIZE, names.ORCHESTRATOR_QUEUE, kwargs={"job_id": "JOB"}),
        id="finalize-a-running-job",
    ),
]


def drained(r: redis.Redis, queue: str) -> bool:
    """Nothing left on ``queue``, nor taken off it and not yet acknowledged (kombu's hash
    "unacked" holds [message, exchange, routing key])."""
    unacked: list[str] = cast(Any, r.hvals("unacked"))
    return not r.llen(queue) and all(json.loads(raw)[2] != queue for raw in unacked)


def all_heard_since(client: Client, r: redis.Redis, since: float, pids: set[int]) -> bool:
    live = client.live_workers()
    fresh = {
        info.get("pid")
        for wid, info in live.items()
        if (r.zscore(names.WORKERS_KEY, wid) or 0) > since
    }
    return pids <= fresh


@pytest.mark.faults
@pytest.mark.parametrize("send", WIRE_CASES)
def test_wire(
    client: Client, redis_client: redis.Redis, unique: Callable[[str], str], send: Send
) -> None:
    pids = {int(info["pid"]) for info in client.live_workers().values()}
    assert len(pids) == 2
    gate = unique("wire")
    job = client.submit(
        one(
            {"id": "wait", "agent": "gate", "input": {"gate": gate, "timeout": 30}},
            echo("then", {"$from": "wait", "path": "text"}),
        )
    )
    wait_for(lambda: redis_client.llen(f"{TEST_PREFIX}:started:{gate}"), what="the gate step")
    before = job_ids(redis_client)

    send(client, redis_client, job.id)
    sent = client.runtime.store.roster.now()
    # A job queued behind it: once it is done, the bad message has been taken and handled.
    marker = client.submit(one(echo("m", "after")))
    assert marker.wait(timeout=60).status == "succeeded"
    wait_for(
        lambda: drained(redis_client, QUEUE) and drained(redis_client, names.ORCHESTRATOR_QUEUE),
        what="the queues to be drained",
    )
    assert all(is_running(pid) for pid in pids)
    wait_for(
        lambda: all_heard_since(client, redis_client, sent, pids),
        timeout=10,
        what="a heartbeat from every worker after the bad message",
    )
    assert job_ids(redis_client) == before | {marker.id}

    # The running job was not touched: it goes on and ends as it would have.
    assert job.status() == "running"
    redis_client.set(f"{TEST_PREFIX}:open:{gate}", 1)
    redis_client.rpush(f"{TEST_PREFIX}:wake:{gate}", "x")
    result = job.wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert {sid: (s.status, s.attempts) for sid, s in result.steps.items()} == {
        "wait": ("succeeded", 1),
        "then": ("succeeded", 1),
    }
    assert result.answer == {"text": f"passed {gate}"}
    types = [event.type for event in job.events(follow=False)]
    assert not {"step_failed", "step_retrying"} & set(types), types


# --- and after all that, the deployment still works -----------------------------------------


def test_the_deployment_still_runs_good_jobs(client: Client) -> None:
    pids = {int(info["pid"]) for info in client.live_workers().values()}
    assert len(pids) == 2 and all(is_running(pid) for pid in pids)
    plan = client.submit(one(echo("a", "still"), echo("b", {"$from": "a", "path": "text"})))
    goal = client.submit(goal="How do I export my notes?")
    assert plan.wait(timeout=60).answer == {"text": "still"}
    answered = goal.wait(timeout=60)
    assert answered.status == "succeeded", answered.error
    assert "export-notes" in answered.answer["citations"]
