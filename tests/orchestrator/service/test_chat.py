"""POST /v1/chat/completions, with the official openai SDK as the client."""

from __future__ import annotations

import openai
import pytest

from tests.orchestrator.service.conftest import Gateway


def sdk(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)


def test_a_completion_answers_from_the_collection_named_as_the_model(gateway: Gateway) -> None:
    completion = sdk(gateway).chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "How do I reset my password?"}]
    )
    [choice] = completion.choices
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert "password" in (choice.message.content or "").lower()
    extra = (completion.model_extra or {})["celeriac"]
    assert extra["status"] == "succeeded" and extra["citations"] == ["reset-password"]
    assert completion.id == f"chatcmpl-{extra['job_id']}"
    assert extra["scores"][0]["name"] == "answer_relevance"


def test_the_messages_are_the_conversation(gateway: Gateway) -> None:
    completion = sdk(gateway).chat.completions.create(
        model="demo",
        messages=[
            {"role": "system", "content": "You are the help desk."},
            {"role": "user", "content": "How do I export my notes?"},
            {"role": "assistant", "content": "Open the note's menu and choose Export."},
            {"role": "user", "content": "and can I do it on my phone?"},
        ],
    )
    assert (completion.model_extra or {})["celeriac"]["citations"][0] == "export-notes"


def test_a_streamed_completion_arrives_in_pieces_then_the_extra_field(gateway: Gateway) -> None:
    stream = sdk(gateway).chat.completions.create(
        model="demo",
        messages=[{"role": "user", "content": "How do I turn on two-factor authentication?"}],
        stream=True,
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) >= 2  # a sentence at a time
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    extra = (chunks[-1].model_extra or {})["celeriac"]
    assert extra["status"] == "succeeded" and "two-factor" in extra["citations"]
    job = sdk(gateway).get(f"/jobs/{extra['job_id']}", cast_to=object)
    assert isinstance(job, dict)
    assert "".join(pieces) == job["answer"]["text"]


def test_an_unknown_model_is_a_bad_request_naming_it(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError, match="unknown collection 'gpt-4o'"):
        sdk(gateway).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi?"}]
        )
