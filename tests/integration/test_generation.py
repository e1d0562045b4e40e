"""Retrieval feeding generation on real workers: offline, and with the test model server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agents.collections import write_collection
from agents.documents import Document
from orchestrator.client import Client
from orchestrator.settings import Settings
from tests.support.llm_server import LLMServer, RecordedRequest, Reply, Respond

KB = [
    Document(
        "reset",
        "Reset a password",
        "Open the login page and click Forgot password. The e-mailed link works for an hour.",
    ),
    Document("billing", "Billing", "Invoices are sent monthly."),
]
PLAN: dict[str, Any] = {
    "steps": [
        {
            "id": "search",
            "agent": "retrieval",
            "input": {"query": "reset a forgotten password", "collection": "kb", "k": 2},
        },
        {
            "id": "answer",
            "agent": "generation",
            "input": {
                "instruction": "How do I reset a forgotten password?",
                "context": {"$from": "search", "path": "hits"},
                "max_words": 40,
            },
        },
    ],
    "answer_from": "answer",
}


def test_offline_search_then_extractive_answer_with_citations(
    isolated: Callable[..., Settings], tmp_path: Path
) -> None:
    write_collection(tmp_path, "kb", KB)
    live = isolated(workers=1, data_dir=tmp_path)
    with Client(live) as client:
        result = client.submit(plan=PLAN).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.answer is not None
    assert "Forgot password" in result.answer["text"]
    assert result.answer["citations"] == ["reset"]
    assert result.answered is True
    assert result.usage.total_tokens == 0  # no model was involved


def _asking(question: str) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads(json.dumps(PLAN))
    plan["steps"][0]["input"]["query"] = question
    plan["steps"][1]["input"]["instruction"] = question
    return plan


def test_offline_a_question_the_documents_do_not_answer_is_marked_unanswered(
    isolated: Callable[..., Settings], tmp_path: Path
) -> None:
    write_collection(tmp_path, "kb", KB)
    live = isolated(workers=1, data_dir=tmp_path)
    with Client(live) as client:
        result = client.submit(plan=_asking("How much does the Pro plan cost?")).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.answered is False
    assert result.answer["citations"] == []
    assert result.answer["text"].startswith("The documents do not answer this")
    # Its main score says the abstention is right: the passages hold no answer.
    assert result.steps["answer"].scores[0].name == "answer_relevance"
    assert result.steps["answer"].scores[0].value > 0.5


def test_a_model_that_finds_no_answer_in_the_passages_says_so_and_cites_nothing(
    isolated: Callable[..., Settings],
    tmp_path: Path,
    llm_server: LLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    write_collection(tmp_path, "kb", KB)
    live = isolated(workers=1, data_dir=tmp_path, llm_backend="openai", llm_model="test-model")
    llm_server.script(
        Reply.of_json({"keywords": "pro plan price"}),
        Reply.of_json(
            {
                "answered": False,
                "text": "The documents do not say what the Pro plan costs.",
                "short_answer": "",
                "citations": ["billing"],
            }
        ),
        Reply.of_json({"rating": 5}),  # the judge
    )
    with Client(live) as client:
        result = client.submit(plan=_asking("How much does the Pro plan cost?")).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.answered is False
    assert result.answer["citations"] == []
    request = llm_server.chat_requests[1]
    assert "answered" in json.dumps(request.body["response_format"])  # the outcome is asked for


def test_search_then_a_grounded_model_answer(
    isolated: Callable[..., Settings],
    tmp_path: Path,
    llm_server: LLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    write_collection(tmp_path, "kb", KB)
    live = isolated(workers=1, data_dir=tmp_path, llm_backend="openai", llm_model="test-model")
    llm_server.script(
        Reply.of_json({"keywords": "reset forgotten password login"}),  # retrieval's rewrite
        Reply.of_json(
            {
                "answered": True,
                "text": "Click Forgot password on the login page.",
                "citations": ["reset", "nope"],
            }
        ),
    )

    with Client(live) as client:
        result = client.submit(plan=PLAN).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.answer == {
        "text": "Click Forgot password on the login page.",
        "citations": ["reset"],
        "answered": True,
        "short_answer": "",
    }
    assert result.answered is True
    assert result.steps["search"].output is not None
    assert result.steps["search"].output["rewritten"] == "reset forgotten password login"
    prompt = llm_server.chat_requests[1].messages[-1]["content"]
    assert '"title": "Reset a password"' in prompt  # the hits reached the model
    assert result.steps["answer"].usage.total_tokens > 0


def _in_spanish(question: str) -> dict[str, Any]:
    """A question searched, answered, and the answer translated into Spanish."""
    asked = _asking(question)
    asked["steps"].append(
        {
            "id": "in_spanish",
            "agent": "translation",
            "input": {
                "text": {"$from": "answer", "path": "text"},
                "citations": {"$from": "answer", "path": "citations"},
                "source_lang": "en",
                "target_lang": "es",
            },
        }
    )
    asked["answer_from"] = "in_spanish"
    return asked


def _model(answered: bool) -> Callable[[RecordedRequest], Reply]:
    """The test model for every step: each request answered by what its schema asks for."""

    def respond(request: RecordedRequest) -> Reply:
        asked = json.dumps(request.body.get("response_format", {}))
        if '"answered"' in asked:
            return Reply.of_json(
                {
                    "answered": answered,
                    "text": "Invoices are sent monthly."
                    if answered
                    else "The documents do not say what the Pro plan costs.",
                    "short_answer": "monthly" if answered else "",
                    "citations": ["billing"],
                }
            )
        if '"lines"' in asked:
            lines = [
                "Las facturas se envían cada mes." if answered else "Los documentos no lo dicen."
            ]
            return Reply.of_json({"lines": lines})
        if '"keywords"' in asked:
            return Reply.of_json({"keywords": "invoices" if answered else "pro plan price"})
        return Reply.of_json({"rating": 5})  # a judge

    return respond


@pytest.mark.parametrize(
    ("question", "answered"),
    [("How much does the Pro plan cost?", False), ("When are invoices sent?", True)],
)
def test_a_model_answer_translated_keeps_its_outcome_and_citations(
    question: str,
    answered: bool,
    isolated: Callable[..., Settings],
    tmp_path: Path,
    llm_server: LLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    write_collection(tmp_path, "kb", KB)
    live = isolated(workers=1, data_dir=tmp_path, llm_backend="openai", llm_model="test-model")
    llm_server.default = Respond(_model(answered))
    with Client(live) as client:
        result = client.submit(plan=_in_spanish(question)).wait(timeout=60)
    assert result.status == "succeeded", result.error
    # "Not in the passages" stays so in Spanish: no citations, and the job says so.
    assert result.answered is answered
    assert result.answer["target_lang"] == "spa"
    assert result.answer["citations"] == (["billing"] if answered else [])
    assert result.answer["text"] == (
        "Las facturas se envían cada mes." if answered else "Los documentos no lo dicen."
    )
