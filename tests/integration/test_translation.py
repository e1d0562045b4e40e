"""Translation steps on real workers: Apertium offline, and the test model server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.client import Client
from orchestrator.errors import NotReady, PlanningError
from orchestrator.models import Plan
from orchestrator.settings import Settings
from tests.support.helpers import needs_apertium
from tests.support.llm_server import LLMServer, Reply

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


def test_a_client_knows_before_submitting_that_no_worker_has_the_pair(
    isolated: Callable[..., Settings],
) -> None:
    live = isolated(workers=1)
    with Client(live) as client:
        [info] = client.live_workers().values()
        assert info["capabilities"]["translation"]["engine"] == "apertium"
        # Japanese is not installed (and with no Apertium at all, it says to install it).
        # Japanese: no Debian package has the pair, and the error says so.
        with pytest.raises(NotReady, match="Debian packages no such pair") as refused:
            client.check_ready(Plan.model_validate(plan(source_lang="en", target_lang="ja")))
    assert (refused.value.step_id, refused.value.agent) == ("translate", "translation")


@needs_apertium
def test_a_client_finds_an_installed_pair_ready(isolated: Callable[..., Settings]) -> None:
    live = isolated(workers=1)
    with Client(live) as client:
        [info] = client.live_workers().values()
        assert "eng-spa" in info["capabilities"]["translation"]["pairs"]
        client.check_ready(Plan.model_validate(plan(source_lang="en", target_lang="es")))


def test_a_worker_with_a_model_is_ready_for_any_pair(
    isolated: Callable[..., Settings], llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    live = isolated(workers=1, llm_backend="openai", llm_model="test-model")
    with Client(live) as client:
        [info] = client.live_workers().values()
        assert info["capabilities"]["translation"] == {
            "engine": "llm:test-model",
            "models": ["test-model"],
        }
        client.check_ready(Plan.model_validate(plan(source_lang="en", target_lang="ja")))
    assert llm_server.chat_requests == []  # asking costs no model call


def test_a_goal_into_a_language_no_worker_translates_is_refused_before_it_is_submitted(
    isolated: Callable[..., Settings],
) -> None:
    live = isolated(workers=1)
    with Client(live) as client, pytest.raises(PlanningError) as caught:
        client.submit(goal="Translate into Japanese: The door is open.")
    assert str(caught.value).startswith(
        "celeriac cannot translate into Japanese here: no live translation worker translates "
        "into Japanese (installed Apertium pairs: "
    )
