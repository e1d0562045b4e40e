"""Goals through the SDK on real workers, planned offline by the rules; goals refused."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from orchestrator.client import Client
from orchestrator.errors import PlanningError, UserError
from orchestrator.settings import Settings
from tests.support.helpers import indexed_jobs, needs_apertium


def job_count(r: redis.Redis) -> int:
    return len(indexed_jobs(r))


def test_a_question_is_planned_searched_and_answered_from_the_demo_collection(
    client: Client,
) -> None:
    job = client.submit(goal="How do I turn on two-factor authentication?")
    result = job.wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.planner == "rules"
    assert result.plan is not None
    assert [step.agent for step in result.plan.steps] == ["retrieval", "generation"]
    assert result.steps["search"].output["hits"][0]["id"] == "two-factor"
    assert "two-factor" in result.answer["citations"]
    assert "Turn it on in Settings, Security" in result.answer["text"]
    types = [event.type for event in job.events(follow=False)]
    assert types[:3] == ["job_submitted", "job_planned", "job_started"]


def test_the_plan_a_client_previews_is_the_plan_the_job_runs(client: Client) -> None:
    goal = "Compare exporting notes with sharing notes"
    preview = client.plan(goal)
    result = client.submit(goal=goal).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.plan == preview
    assert {step.agent for step in preview.steps} == {"retrieval", "generation"}
    assert {"export-notes", "share-notes"} <= set(result.answer["citations"])


def test_a_goal_outside_what_the_rules_plan_fails_its_job_saying_why(client: Client) -> None:
    result = client.submit(goal="Book a table for two at eight").wait(timeout=60)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("planning failed: cannot tell what the goal")
    assert result.steps == {} and result.plan is None


def test_a_goal_about_a_collection_that_does_not_exist_fails_its_search_step(
    client: Client,
) -> None:
    result = client.submit(goal="What do the documents say about sync?", collection="nope").wait(
        timeout=60
    )
    assert result.status == "failed"
    assert "no collection 'nope'" in (result.steps["search"].error or "")
    assert result.steps["answer"].status == "skipped"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"goal": ""}, "the goal is empty"),
        ({"goal": " \n\t "}, "the goal is empty"),
        ({"goal": "x" * 100_000}, "at most 20000 are allowed (CELERIAC_MAX_GOAL_CHARS)"),
        ({"goal": "find \x00 things"}, "NUL character"),
        ({"goal": "What is sync?", "collection": "../../etc"}, "collection name"),
        ({"goal": "What is sync?", "plan": {"steps": []}}, "exactly one of them"),
        ({}, "exactly one of them"),
        ({"plan": {"steps": [{"id": "a", "agent": "echo"}]}, "collection": "x"}, "collection goes"),
        (
            {"plan": {"steps": [{"id": "a", "agent": "echo"}]}, "fallback_language": True},
            "fallback_language goes with a goal",
        ),
        ({"goal": "What is sync?", "fallback_language": "yes"}, "must be True or False"),
    ],
    ids=[
        *["empty", "blank", "100kb", "nul", "traversal", "both", "neither"],
        *["collection-for-plan", "fallback-for-plan", "fallback-not-bool"],
    ],
)
def test_a_bad_goal_is_refused_and_nothing_is_written(
    client: Client, redis_client: redis.Redis, options: dict[str, Any], message: str
) -> None:
    before = job_count(redis_client)
    plan = options.pop("plan", None)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        client.submit(plan, **options)
    assert job_count(redis_client) == before


def test_types_nobody_serves_are_not_planned(deployment: Settings) -> None:
    # A client that can import the built-in types, on a deployment whose workers are gone.
    with Client(deployment) as client:
        cards = client.runtime.engine.available_cards()
    assert {"retrieval", "generation", "translation", "echo"} <= set(cards)
    served = {
        name
        for info in Client(deployment).live_workers().values()
        for name in info.get("agents", [])
    }
    assert set(cards) == served


QUESTION = "How do I reset a forgotten password?"


@needs_apertium
def test_the_translation_workers_offer_their_installed_pairs_to_the_planner(
    client: Client,
) -> None:
    offers = client.runtime.engine.available_cards()["translation"].offers
    assert offers == {"pairs": ["eng-spa", "spa-eng"]}


@needs_apertium
def test_an_answer_translated_into_spanish_keeps_its_citations(client: Client) -> None:
    result = client.submit(goal=f"{QUESTION} Answer in Spanish.").wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.answer["target_lang"] == "spa" and result.warnings == []
    assert "reset-password" in result.answer["citations"]
    assert result.answer["citations"] == result.steps["answer"].output["citations"]


@needs_apertium
def test_a_language_no_worker_can_produce_is_refused_before_anything_runs(
    client: Client, redis_client: redis.Redis
) -> None:
    before = job_count(redis_client)
    with pytest.raises(PlanningError) as caught:
        client.submit(goal=f"{QUESTION} Answer in German.")
    message = str(caught.value)
    assert message.startswith("celeriac cannot answer in German here: no live translation worker")
    assert "(installed Apertium pairs: eng-spa, spa-eng)" in message
    assert "--fallback-language" in message
    assert job_count(redis_client) == before


@needs_apertium
def test_with_the_fallback_the_answer_is_in_english_and_the_result_warns(client: Client) -> None:
    result = client.submit(goal=f"{QUESTION} Answer in German.", fallback_language=True).wait(
        timeout=60
    )
    assert result.status == "succeeded", result.error
    assert result.plan is not None and [s.agent for s in result.plan.steps] == [
        "retrieval",
        "generation",
    ]
    assert "reset-password" in result.answer["citations"]
    [warning] = result.warnings
    assert warning.startswith("the answer is in English, not German: ")


def test_a_language_celeriac_does_not_know_is_refused_naming_it(
    client: Client, redis_client: redis.Redis
) -> None:
    before = job_count(redis_client)
    with pytest.raises(PlanningError, match="celeriac does not know the language 'Klingon'"):
        client.submit(goal=f"{QUESTION} Answer in Klingon.", fallback_language=True)
    assert job_count(redis_client) == before
