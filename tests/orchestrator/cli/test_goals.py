"""``celeriac plan``, ``run "GOAL"`` and ``submit "GOAL"``, run as real processes (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.models import Plan
from tests.support.cli import celeriac, environment, fails
from tests.support.helpers import needs_apertium


def offline(tmp_path: Path) -> dict[str, str]:
    return environment(CELERIAC_DATA_DIR=str(tmp_path / "data"), CELERIAC_LLM_BACKEND="offline")


def test_plan_prints_the_plan_as_plan_json_without_running_it(tmp_path: Path) -> None:
    result = celeriac("plan", "Compare billing and sync", env=offline(tmp_path))
    assert result.returncode == 0, result.stderr
    plan = Plan.model_validate_json(result.stdout)
    assert [(s.id, s.agent) for s in plan.steps] == [
        ("search_1", "retrieval"),
        ("search_2", "retrieval"),
        ("compare", "generation"),
    ]
    assert plan.steps[0].input["collection"] == "demo"
    assert not (tmp_path / "data").exists()  # nothing ran, nothing was built


def test_plan_names_the_collection_to_search(tmp_path: Path) -> None:
    result = celeriac("plan", "What is sync?", "--collection", "manuals", env=offline(tmp_path))
    assert result.returncode == 0, result.stderr
    assert Plan.model_validate_json(result.stdout).steps[0].input["collection"] == "manuals"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "Book a flight to Paris"], "cannot tell what the goal 'Book a flight to Paris'"),
        (["plan", ""], "the goal is empty: say in a sentence what you want done"),
        (["plan", "What is sync?", "--collection", "../up"], "collection name"),
        (["run"], 'give a GOAL or --plan FILE (one of them): celeriac run "GOAL"'),
        (["run", "What is sync?", "--plan", "x.json"], "give a GOAL or --plan FILE"),
        (["run", "--docs", "notes", "--plan", "x.json"], "--docs goes with a GOAL"),
        (["run", "--fallback-language", "--plan", "x.json"], "--fallback-language goes with"),
        (["submit", "--fallback-language", "--plan", "x.json"], "--fallback-language goes with"),
        (["run", "What is sync?", "--docs", "/no/such/dir"], "--docs: "),
        (["submit"], "give a GOAL or --plan FILE"),
    ],
)
def test_bad_goals_and_options_are_one_line_errors(
    tmp_path: Path, args: list[str], message: str
) -> None:
    assert message in fails(celeriac(*args, env=offline(tmp_path)), 2)


def test_a_huge_goal_is_refused(tmp_path: Path) -> None:
    error = fails(celeriac("plan", "why " * 25_000, env=offline(tmp_path)), 2)
    assert "the goal is 100000 characters long; at most 20000" in error


def test_run_plans_and_answers_a_goal_from_the_demo_collection(tmp_path: Path) -> None:
    result = celeriac("run", "How do I export my notes?", "--json", env=offline(tmp_path))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "succeeded"
    assert document["goal"] == "How do I export my notes?" and document["planner"] == "rules"
    assert [step["id"] for step in document["plan"]["steps"]] == ["search", "answer"]
    assert "export-notes" in document["answer"]["citations"]


def test_run_with_docs_searches_those_documents_and_removes_them_after(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "moon-base.md").write_text(
        "# Moon base\nThe moon base opens its airlock at dawn. Visitors need a permit.\n"
    )
    (docs / "mars.md").write_text("# Mars\nThe Mars rover charges its batteries at noon.\n")
    env = offline(tmp_path)
    result = celeriac(
        "run", "When does the moon base open its airlock?", "--docs", str(docs), "--json", env=env
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["answer"]["citations"][0] == "moon-base"
    collection = document["plan"]["steps"][0]["input"]["collection"]
    assert collection.startswith("docs-")
    listed = celeriac("index", "--list", "--json", env=env)
    assert collection not in listed.stdout


def test_submit_a_goal_then_status_shows_its_plan(live_env: dict[str, str]) -> None:
    submitted = celeriac("submit", "Explain how sync works", "--wait", "--json", env=live_env)
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["job_id"]
    status = celeriac("status", job_id, env=live_env)
    assert status.returncode == 0, status.stderr
    assert f"{job_id} succeeded (2 succeeded)" in status.stdout
    assert "goal: Explain how sync works" in status.stdout
    assert "plan by rules, answer from answer" in status.stdout
    assert "search" in status.stdout and "retrieval" in status.stdout


@needs_apertium
def test_a_goal_in_spanish_is_answered_in_spanish(tmp_path: Path) -> None:
    result = celeriac("run", "¿Cómo exporto mis notas?", "--json", env=offline(tmp_path))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "succeeded", document["error"]
    assert document["steps"]["goal_in_english"]["output"]["text"].lower().startswith("how")
    assert "export-notes" in document["steps"]["answer"]["output"]["citations"]
    assert document["answer"]["target_lang"] == "spa"
    assert document["answer"]["engine"] == "apertium"
    assert "export-notes" in document["answer"]["citations"]  # kept through the translation


GERMAN = "How do I export my notes? Answer in German."


@needs_apertium
def test_run_refuses_a_language_it_cannot_produce_with_exit_2_before_running(
    tmp_path: Path,
) -> None:
    error = fails(celeriac("run", GERMAN, env=offline(tmp_path)), 2)
    assert error.startswith("celeriac cannot answer in German here: no live translation worker")
    assert "or allow an answer in English (--fallback-language" in error


@needs_apertium
@pytest.mark.parametrize(
    ("goal", "message"),
    [
        # Written in German: it would be read into English, and answered back, by no one.
        ("Wie exportiere ich meine Notizen?", "celeriac cannot answer a goal written in German"),
        ("Translate 'my notes' into German.", "celeriac cannot translate into German"),
    ],
)
def test_run_refuses_a_goal_in_or_into_a_language_without_a_pair_with_exit_2(
    tmp_path: Path, goal: str, message: str
) -> None:
    error = fails(celeriac("run", goal, env=offline(tmp_path)), 2)
    assert error.startswith(f"{message} here: no live translation worker translates ")
    assert "configure a language model (OPENAI_API_KEY or OPENAI_BASE_URL)" in error


@needs_apertium
def test_run_with_fallback_language_answers_in_english_and_warns(tmp_path: Path) -> None:
    result = celeriac("run", GERMAN, "--fallback-language", "--json", env=offline(tmp_path))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "succeeded", document["error"]
    assert document["warnings"][0].startswith("the answer is in English, not German: ")
    assert "export-notes" in document["answer"]["citations"]
    shown = celeriac("run", GERMAN, "--fallback-language", env=offline(tmp_path))
    assert "warning: the answer is in English, not German" in shown.stdout


def test_run_names_a_language_celeriac_does_not_know(tmp_path: Path) -> None:
    error = fails(
        celeriac("run", "How do I export my notes? Answer in Klingon.", env=offline(tmp_path)), 2
    )
    assert error.startswith("celeriac does not know the language 'Klingon': ")
    assert not (tmp_path / "data").exists()  # refused before anything started


@needs_apertium
def test_submit_refuses_a_language_no_live_worker_can_produce(live_env: dict[str, str]) -> None:
    error = fails(celeriac("submit", GERMAN, "--wait", env=live_env), 2)
    assert "(installed Apertium pairs: eng-spa, spa-eng)" in error
    planned = celeriac("plan", GERMAN, "--fallback-language", env=live_env)
    assert planned.returncode == 0, planned.stderr
    assert Plan.model_validate_json(planned.stdout).warnings[0].startswith("the answer is in")
