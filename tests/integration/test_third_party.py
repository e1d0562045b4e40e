"""An agent type from a package of its own (examples/keywords): installed, listed, planned
by the model, and served, with no change to celeriac."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.client import Client
from orchestrator.settings import Settings
from tests.integration.test_planner import cards_sent, run_goal
from tests.support.helpers import ROOT, wait_for
from tests.support.llm_server import LLMServer, Reply


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/keywords, pip-installed into a folder of its own (for PYTHONPATH), offline:
    built with this venv's setuptools and wheel (make install's), nothing fetched."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(ROOT / "examples" / "keywords"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target


def test_once_installed_the_type_is_registered(installed: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "orchestrator", "agents", "--json"],
        cwd=ROOT,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin", "HOME": str(installed)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    agents = json.loads(listed.stdout)["agents"]
    assert "keywords" in agents and agents["keywords"]["description"].startswith("Extracts")


def test_a_worker_serving_it_makes_it_plannable_and_it_runs(
    installed: Path,
    planning: Settings,
    llm_server: LLMServer,
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    with Client(planning) as client:
        assert "keywords" not in client.known_agents()  # neither this process nor the
        spawn(
            planning,
            "worker",
            "--agent",
            "keywords",
            "--no-orchestrator",  # orchestrator
            PYTHONPATH=str(installed),
        )  # worker has it: only the new worker does
        wait_for(lambda: "keywords" in client.known_agents(), what="the keywords worker")
    plan = {
        "steps": [
            {
                "id": "kw",
                "agent": "keywords",
                "input": {"text": "Sync notes. Sync often. Notes!", "k": 2},
            }
        ],
        "answer_from": "kw",
    }
    llm_server.script(Reply.of_json(plan))
    result = run_goal(planning, "What are the keywords of: Sync notes. Sync often. Notes!")
    assert result.status == "succeeded", result.error
    assert result.answer == {"keywords": ["sync", "notes"], "text": "sync, notes"}
    # The package's own score hook ran on its worker: each sentence has a keyword.
    (coverage,) = result.steps["kw"].scores
    assert (coverage.name, coverage.value, coverage.proxy) == ("sentence_coverage", 1.0, True)
    assert result.score == 1.0
    card = cards_sent(llm_server.chat_requests[0])["keywords"]
    assert card["input_schema"]["properties"]["k"]["default"] == 5
    assert result.steps["kw"].worker is not None
