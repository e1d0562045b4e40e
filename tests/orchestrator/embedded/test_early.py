"""``celeriac run``'s Redis and workers, begun before the CLI's imports and taken over."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.client import Client
from orchestrator.embedded import early
from orchestrator.embedded.deployment import Embedded
from orchestrator.models import Plan
from orchestrator.settings import read_settings
from orchestrator.store.connection import connect
from orchestrator.store.jobs import Store
from tests.support.helpers import ROOT, wait_for

PLAN = Plan.model_validate(
    {
        "steps": [
            {
                "id": "answer",
                "agent": "generation",
                "input": {
                    "instruction": "How do I reset my password?",
                    "context": "To reset your password, open Settings and choose Reset password.",
                },
            }
        ]
    }
)


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CELERIAC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CELERIAC_LLM_BACKEND", "offline")
    yield
    left = early.take()  # a failed test leaves nothing running
    if left is not None:
        left.discard()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # exited, not yet reaped


def test_run_takes_over_the_redis_and_workers_begun_before_its_imports(offline: None) -> None:
    early.begin(["run", "--plan", "plan.json", "--json"])
    begun = early._begun
    assert begun is not None and len(begun.workers) == 1
    embedded = Embedded(read_settings())
    try:
        live = embedded.start()
        assert embedded.redis is begun.redis and embedded.workers == begun.workers
        with Client(live) as client:
            result = client.submit(PLAN).wait(60)
        assert result.status == "succeeded", result.error
    finally:
        embedded.stop()
    assert all(process.poll() is not None for process in begun.workers)
    assert begun.redis.process is None and early.take() is None


def test_what_was_begun_with_other_settings_is_stopped_and_started_afresh(
    offline: None,
) -> None:
    early.begin(["run", "--plan", "plan.json"])
    begun = early._begun
    assert begun is not None
    embedded = Embedded(read_settings().model_copy(update={"fallback_language": True}))
    try:
        embedded.start()
        assert begun.redis.process is None
        assert all(process.poll() is not None for process in begun.workers)
        assert embedded.redis is not begun.redis and len(embedded.workers) == 1
        assert embedded.workers[0].pid not in {process.pid for process in begun.workers}
    finally:
        embedded.stop()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["submit", "--plan", "plan.json"],
        ["eval", "relevance", "--squad", "dev.json"],  # in this process: no deployment
        ["eval", "--help"],
        ["eval", "translation", "--help"],
        ["run", "--approve-plan", "reset my password"],
        ["run", "--approval-timeout=60", "reset my password"],
        ["run", "--fallback-language", "reset my password in Klingon"],
        ["run", "--help"],
    ],
)
def test_only_a_run_with_the_environments_settings_begins_early(argv: list[str]) -> None:
    assert early._workers_wanted(argv) is None


def test_a_run_or_eval_begins_as_many_workers_as_the_settings_ask_and_none_for_a_redis_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert early._workers_wanted(["run", "--plan", "plan.json", "--json"]) == (1, early.RUN)
    evaluation = early._workers_wanted(["eval", "translation", "--source", "en.txt"])
    assert evaluation == (1, early.EVALS["translation"])
    monkeypatch.setenv("CELERIAC_EMBEDDED_WORKERS", "2")
    assert early._workers_wanted(["run", "a goal"]) == (2, early.RUN)
    monkeypatch.setenv("CELERIAC_EMBEDDED_WORKERS", "two")  # the settings will say why
    assert early._workers_wanted(["run", "a goal"]) is None
    monkeypatch.delenv("CELERIAC_EMBEDDED_WORKERS")
    monkeypatch.setenv("CELERIAC_REDIS_URL", "redis://127.0.0.1:6379/0")
    assert early._workers_wanted(["run", "a goal"]) is None


def test_what_nobody_took_over_is_killed_at_exit(offline: None) -> None:
    code = (
        "from orchestrator.embedded import early\n"
        "early.begin(['run', 'a goal'])\n"
        "begun = early._begun\n"
        "print(begun.redis.process.pid, *[p.pid for p in begun.workers])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 2
    wait_for(lambda: all(gone(pid) for pid in pids), timeout=10, what="the processes to end")


def test_an_evaluations_workers_serve_its_agent_types_unscored_and_nothing_else_takes_them(
    offline: None,
) -> None:
    shape = early.EVALS["translation"]
    early.begin(["eval", "translation", "--source", "en.txt", "--json"])
    begun = early._begun
    assert begun is not None and begun.shape == shape
    embedded = Embedded(read_settings(), shape=shape)
    try:
        live = embedded.start()
        assert embedded.workers == begun.workers and not live.scoring
        store = Store(connect(live.redis_url or ""), grace_seconds=30, result_ttl=60)
        [info] = store.roster.live(30).values()
        assert info["agents"] == ["translation"]
        step = {"text": "Open the settings.", "source_lang": "en", "target_lang": "es"}
        plan = Plan.model_validate({"steps": [{"id": "t", "agent": "translation", "input": step}]})
        with Client(live) as client:
            result = client.submit(plan).wait(60)
        assert result.status == "succeeded", result.error
        assert result.steps["t"].output["text"] and result.steps["t"].scores == []
    finally:
        embedded.stop()
    # A run's deployment serves every agent type and scores: it does not take these over.
    early.begin(["eval", "translation", "--source", "en.txt"])
    begun = early._begun
    assert begun is not None
    embedded = Embedded(read_settings())
    try:
        embedded.start()
        assert all(process.poll() is not None for process in begun.workers)
        assert embedded.redis is not begun.redis
    finally:
        embedded.stop()
