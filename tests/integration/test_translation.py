"""Translation steps on real workers: Apertium offline, and the test model server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.client import Client
from orchestrator.settings import Settings
from tests.conftest import needs_apertium
from tests.llm_server import LLMServer, Reply

TEXT = "Invoices and billing\nThe red car is fast.\n\nThank you"


def plan(**input: Any) -> dict[str, Any]:
    return {
        "steps": [{"id": "translate", "agent": "translation", "input": {"text": TEXT, **input}}],
        "answer_from": "translate",
    }


@needs_apertium
def test_an_apertium_translation_on_a_worker(isolated: Callable[..., Settings]) -> None:
    live = isolated(workers=1)
    with Client(live) as client:
        result = client.submit(plan(source_lang="en", target_lang="es")).wait(timeout=60)
        unsupported = client.submit(plan(source_lang="en", target_lang="ja")).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.answer == {
        "text": "Facturas y enunciando\nEl coche rojo es rápidamente.\n\nGracias",
        "source_lang": "eng",
        "target_lang": "spa",
        "engine": "apertium",
        "citations": [],
    }
    assert unsupported.status == "failed"
    error = unsupported.steps["translate"].error or ""
    assert "Apertium cannot translate eng to jpn" in error and "eng-spa" in error
    assert unsupported.steps["translate"].attempts == 1  # permanent: not retried


def test_a_model_translation_on_a_worker(
    isolated: Callable[..., Settings], llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    live = isolated(workers=1, llm_backend="openai", llm_model="test-model")
    llm_server.script(
        Reply.of_json({"language": "en"}),
        Reply.of_json({"lines": ["Facturación", "El coche rojo es rápido.", "Gracias"]}),
    )
    with Client(live) as client:
        result = client.submit(plan(target_lang="es")).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.answer == {
        "text": "Facturación\nEl coche rojo es rápido.\n\nGracias",
        "source_lang": "eng",
        "target_lang": "spa",
        "engine": "llm:test-model",
        "citations": [],
    }
    detect, translate = (request.messages for request in llm_server.chat_requests)
    assert detect[-1]["content"] == TEXT
    assert json.loads(translate[-1]["content"]) == {
        "lines": ["Invoices and billing", "The red car is fast.", "Thank you"]
    }
    assert result.steps["translate"].usage.total_tokens > 0
