"""The README's commands on the examples that ship with celeriac, as a user runs them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.support.cli import celeriac
from tests.support.helpers import needs_apertium

ROOT = Path(__file__).resolve().parents[1]


def test_the_toy_diamond_runs() -> None:
    env = {**os.environ, "CELERIAC_AGENT_MODULES": "examples.text_agents"}
    result = celeriac("run", "--plan", "examples/diamond.json", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["answer"]["text"] == (
        "HELLO CELERIAC / hello celeriac (whispered)"
    )


@needs_apertium
def test_the_support_example_searches_answers_and_translates(tmp_path: Path) -> None:
    env = {**os.environ, "CELERIAC_DATA_DIR": str(tmp_path), "CELERIAC_LLM_BACKEND": "offline"}
    # The plan searches the demo collection, which workers build on first use.
    result = celeriac("run", "--plan", "examples/support-answer.json", "--json", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "succeeded"
    answer = document["steps"]["answer"]["output"]
    assert "Forgot password" in answer["text"] and "reset-password" in answer["citations"]
    assert document["answer"]["engine"] == "apertium"
    assert document["answer"]["target_lang"] == "spa" and "contraseña" in document["answer"]["text"]
    assert document["answer"]["citations"] == answer["citations"]  # kept through translation


@needs_apertium
def test_the_readme_first_goal_answers_a_customer_in_spanish(tmp_path: Path) -> None:
    env = {**os.environ, "CELERIAC_DATA_DIR": str(tmp_path), "CELERIAC_LLM_BACKEND": "offline"}
    goal = "A customer asks how to reset a forgotten password. Answer them in Spanish."
    result = celeriac("run", goal, "--json", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "succeeded", document["error"]
    assert [step["agent"] for step in document["plan"]["steps"]] == [
        "retrieval",
        "generation",
        "translation",
    ]
    assert "reset-password" in document["steps"]["answer"]["output"]["citations"]
    assert "contraseña" in document["answer"]["text"]
