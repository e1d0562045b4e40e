"""Conversations: a follow-up is searched for in the context of the turns before it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agents.llm import LLMTransientError, ScriptedChatModel
from orchestrator.client import Client
from orchestrator.conversations import followup_goal, standalone, topic_words
from orchestrator.errors import UserError
from orchestrator.settings import Settings
from tests.orchestrator.service.conftest import Gateway
from tests.support.helpers import wait_for
from tests.support.llm_server import LLMServer, Reply


def test_a_followup_carries_the_earlier_questions_topic() -> None:
    earlier = ["How do I export my notes?"]
    assert topic_words("and can I do it on my phone?", earlier) == ["export", "notes"]
    assert followup_goal("and can I do it on my phone?", earlier) == (
        "and can I do it on my phone? (export notes)"
    )
    assert followup_goal("How do I export notes?", earlier) == "How do I export notes?"
    assert followup_goal("How do I export my notes?", []) == "How do I export my notes?"


def turn_done(api: httpx.Client, conversation: str, turn: int) -> dict[str, Any] | None:
    turns = api.get(f"/v1/conversations/{conversation}").json()["turns"]
    done = len(turns) >= turn and turns[turn - 1]["status"] not in ("pending", "running")
    return turns[turn - 1] if done else None


def test_a_conversation_answers_a_followup_about_what_it_is_about(api: httpx.Client) -> None:
    made = api.post("/v1/conversations", json={"collection": "demo"})
    assert made.status_code == 201 and made.json()["turns"] == []
    conversation = made.json()["conversation_id"]
    first = api.post(
        f"/v1/conversations/{conversation}/messages", json={"message": "How do I export my notes?"}
    ).json()
    assert first["turn"] == 1
    answered = wait_for(lambda: turn_done(api, conversation, 1), what="the first turn")
    assert answered["citations"] == ["export-notes"]
    second = api.post(
        f"/v1/conversations/{conversation}/messages",
        json={"message": "and can I do it on my phone?"},
    ).json()
    assert second["turn"] == 2 and second["goal"].endswith("(export notes)")
    followup = wait_for(lambda: turn_done(api, conversation, 2), what="the follow-up")
    assert followup["status"] == "succeeded" and "export-notes" in followup["citations"]
    assert followup["scores"][0]["name"] == "answer_relevance" and followup["answer"]
    job = api.get(f"/v1/jobs/{second['job_id']}").json()
    assert "export-notes" in [hit["id"] for hit in job["steps"]["search"]["output"]["hits"]]

    # The same question alone is about something else: it is the context that found it.
    alone = api.post("/v1/jobs", json={"goal": "and can I do it on my phone?"}).json()["job_id"]
    hits = wait_for(
        lambda: api.get(f"/v1/jobs/{alone}").json()["steps"].get("search", {}).get("output"),
        what="the search alone",
    )["hits"]
    assert "export-notes" not in [hit["id"] for hit in hits]


def test_a_conversation_keeps_its_last_turns(
    bare: Settings, gateways: Callable[..., Gateway]
) -> None:
    short = bare.model_copy(update={"conversation_max_turns": 2})
    with gateways(short).http() as api:
        conversation = api.post("/v1/conversations", json={}).json()["conversation_id"]
        for message in ("How do I sync?", "How do I share?", "How do I export?"):
            posted = api.post(
                f"/v1/conversations/{conversation}/messages", json={"message": message}
            )
            assert posted.status_code == 202
        turns = api.get(f"/v1/conversations/{conversation}").json()["turns"]
    assert [t["message"] for t in turns] == ["How do I share?", "How do I export?"]
    assert turns[0]["status"] == "pending"  # no workers here: the jobs wait


def test_the_sdk_holds_a_conversation_too(client: Client) -> None:
    talk = client.conversation("demo")
    assert talk.ask("How do I export my notes?").wait(timeout=60).status == "succeeded"
    followup = talk.ask("and can I do it on my phone?").wait(timeout=60)
    assert followup.goal == "and can I do it on my phone? (export notes)"
    assert "export-notes" in followup.answer["citations"]
    again = client.conversation(conversation_id=talk.id)
    assert again.collection == "demo"
    assert [turn["message"] for turn in again.turns()] == [
        "How do I export my notes?",
        "and can I do it on my phone?",
    ]
    with pytest.raises(UserError, match="no conversation 'nope'"):
        client.conversation(conversation_id="nope")


def test_with_a_model_a_followup_is_rewritten_to_stand_alone() -> None:
    model = ScriptedChatModel(["Can I export my notes on my phone?", LLMTransientError("503")])
    earlier = ["How do I export my notes?"]
    assert standalone(model, "and can I do it on my phone?", earlier) == (
        "Can I export my notes on my phone?"
    )
    [call] = model.calls
    assert "- How do I export my notes?" in call["messages"][1].content
    assert call["messages"][1].content.endswith("Last question: and can I do it on my phone?")
    # A model that fails leaves the offline way; a first question needs no rewriting.
    assert standalone(model, "and on my phone?", earlier) == "and on my phone? (export notes)"
    assert standalone(model, "How do I sync?", []) == "How do I sync?"


def test_a_gateway_with_a_model_asks_it_to_rewrite_the_followup(
    deployment: Settings,
    gateways: Callable[..., Gateway],
    llm_server: LLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    llm_server.script(Reply("How do I export my notes on my phone?"))
    with_model = deployment.model_copy(
        update={"llm_backend": "openai", "llm_model": "test-model", "llm_cache": False}
    )
    with gateways(with_model).http() as api:
        conversation = api.post("/v1/conversations", json={}).json()["conversation_id"]
        path = f"/v1/conversations/{conversation}/messages"
        api.post(path, json={"message": "How do I export my notes?"})
        second = api.post(path, json={"message": "and can I do it on my phone?"}).json()
        followup = wait_for(lambda: turn_done(api, conversation, 2), what="the follow-up")
    assert second["goal"] == "How do I export my notes on my phone?"
    assert followup["citations"] == ["export-notes"]
    [request] = llm_server.chat_requests  # the first question needed no rewriting
    assert "and can I do it on my phone?" in request.messages[-1]["content"]
