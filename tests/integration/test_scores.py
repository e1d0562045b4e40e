"""Every step and job scored on real workers: offline measures, and a model as judge."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.client import Client
from orchestrator.settings import Settings
from tests.support.llm_server import LLMServer, Reply

SEARCH_AND_ANSWER = {
    "steps": [
        {
            "id": "search",
            "agent": "retrieval",
            "input": {"query": "forgotten password reset link", "collection": "demo", "k": 3},
            "reference": {"relevant": {"reset-password": 2, "change-email": 1}},
        },
        {
            "id": "answer",
            "agent": "generation",
            "input": {
                "instruction": "How do I reset a forgotten password?",
                "context": {"$from": "search", "path": "hits"},
            },
        },
    ],
    "answer_from": "answer",
}


def test_steps_are_scored_against_references_and_the_job_gets_their_mean(client: Client) -> None:
    result = client.submit(plan=SEARCH_AND_ANSWER).wait(timeout=60)
    assert result.status == "succeeded", result.error
    search = {score.name: score for score in result.steps["search"].scores}
    assert result.steps["search"].scores[0].name == "ndcg@3"
    assert (
        search["mrr"].value == 1.0 and search["mrr"].method == "trec_eval"
    )  # reset-password first
    assert search["recall@3"].value == pytest.approx(1.0 if search["p@3"].value > 0.5 else 0.5)
    answer = result.steps["answer"].scores
    assert [score.name for score in answer] == ["answer_relevance", "faithfulness", "coverage"]
    assert answer[0].value > 0.5  # it answers the question
    assert answer[1].value == 1.0  # the extractive answer is made of the passages' sentences
    assert result.score == pytest.approx((search["ndcg@3"].value + answer[0].value) / 2)


def test_scoring_can_be_switched_off(isolated: Callable[..., Settings]) -> None:
    live = isolated(workers=1, scoring=False)
    with Client(live) as client:
        result = client.submit(plan=SEARCH_AND_ANSWER).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert all(not step.scores for step in result.steps.values()) and result.score is None


def test_with_a_model_a_translation_is_judged_by_it(
    isolated: Callable[..., Settings], llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    live = isolated(
        workers=1, llm_backend="openai", llm_model="test-model", llm_cache=False, scoring_judge=True
    )
    llm_server.script(Reply.of_json({"lines": ["Hola, mundo."]}), Reply.of_json({"rating": 4}))
    plan = {
        "steps": [
            {
                "id": "es",
                "agent": "translation",
                "input": {"text": "Hello, world.", "source_lang": "en", "target_lang": "es"},
            }
        ]
    }
    with Client(live) as client:
        result = client.submit(plan=plan).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.answer["text"] == "Hola, mundo."
    (judged,) = result.steps["es"].scores
    assert (judged.name, judged.value, judged.method, judged.proxy) == (
        "judged_quality",
        0.75,
        "llm:test-model",
        False,
    )
    judge = llm_server.chat_requests[1]
    assert "Hello, world." in judge.last_user_message and "Hola, mundo." in judge.last_user_message
    assert result.steps["es"].usage.total_tokens > 0  # the judge's call counts for the step


def test_a_step_under_the_jobs_threshold_is_run_again_then_fails_keeping_its_history(
    client: Client,
) -> None:
    plan = {
        "steps": [
            {
                "id": "search",
                "agent": "retrieval",
                "input": {"query": "password", "collection": "demo", "k": 2},
                "reference": {"relevant": {"billing": 1}},  # a page this query does not find
            },
            {"id": "later", "agent": "echo", "input": {"text": "x"}, "depends_on": ["search"]},
        ]
    }
    result = client.submit(plan=plan, threshold=0.5).wait(timeout=60)
    assert result.status == "failed"
    assert result.threshold == 0.5
    search = result.steps["search"]
    assert search.status == "failed" and search.attempts == 2  # CELERIAC_SCORE_RETRIES=1
    assert search.error == "scored 0.000 (ndcg@2, trec_eval) under the job's threshold 0.5"
    assert [attempt.attempt for attempt in search.history] == [1, 2]
    assert search.history[0].scores[0].name == "ndcg@2"
    assert search.output is not None and search.output["hits"]  # what it found is kept
    assert result.steps["later"].status == "skipped"


def test_a_step_over_the_threshold_counts_as_usual(client: Client) -> None:
    result = client.submit(plan=SEARCH_AND_ANSWER, threshold=0.3).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert all(not step.history for step in result.steps.values())
    assert result.steps["search"].attempts == 1


def test_a_threshold_outside_zero_to_one_is_refused(client: Client) -> None:
    from orchestrator.errors import UserError

    with pytest.raises(UserError, match="between 0 and 1"):
        client.submit(plan=SEARCH_AND_ANSWER, threshold=2)
