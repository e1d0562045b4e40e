"""Retrieval feeding generation on real workers: offline, and with the test model server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agents.collections import write_collection
from agents.documents import Document
from orchestrator.client import Client
from orchestrator.settings import Settings
from tests.llm_server import LLMServer, Reply

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
    assert result.usage.total_tokens == 0  # no model was involved


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
            {"text": "Click Forgot password on the login page.", "citations": ["reset", "nope"]}
        ),
    )

    with Client(live) as client:
        result = client.submit(plan=PLAN).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.answer == {
        "text": "Click Forgot password on the login page.",
        "citations": ["reset"],
    }
    assert result.steps["search"].output is not None
    assert result.steps["search"].output["rewritten"] == "reset forgotten password login"
    prompt = llm_server.chat_requests[1].messages[-1]["content"]
    assert '"title": "Reset a password"' in prompt  # the hits reached the model
    assert result.steps["answer"].usage.total_tokens > 0
