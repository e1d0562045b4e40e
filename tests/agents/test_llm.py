"""The chat-model interface: structured output, repairs, metering (scripted model)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from agents.llm import (
    InvalidModelOutput,
    LLMTransientError,
    Message,
    MeteredChatModel,
    ScriptedChatModel,
    StructuredOutputUnsupported,
    Usage,
)

ASK = [Message(role="user", content="name a colour and a number")]


class Pick(BaseModel):
    colour: str
    number: int


def test_structured_asks_for_the_json_schema_and_validates() -> None:
    model = ScriptedChatModel(['{"colour": "red", "number": 3}'])
    pick, usage = model.structured(ASK, Pick)
    assert pick == Pick(colour="red", number=3)
    assert usage.completion_tokens == 4  # the scripted model counts words
    [call] = model.calls
    assert call["response_format"] == "json_schema"
    assert call["json_schema"]["schema"] == Pick.model_json_schema()
    assert call["temperature"] == 0.0


def test_an_endpoint_without_json_schema_gets_json_mode_and_the_schema_in_words() -> None:
    model = ScriptedChatModel(
        [
            StructuredOutputUnsupported("response_format json_schema is not supported"),
            '```json\n{"colour": "blue", "number": 7}\n```',
        ]
    )
    pick, _ = model.structured(ASK, Pick)
    assert pick == Pick(colour="blue", number=7)
    fallback = model.calls[1]
    assert fallback["response_format"] == "json_object"
    assert '"colour"' in fallback["messages"][-1].content  # the schema, as an instruction


def test_invalid_output_is_sent_back_with_the_error_until_it_validates() -> None:
    model = ScriptedChatModel(
        ['{"colour": "red"}', "not json at all", '{"colour": "g", "number": 1}']
    )
    pick, usage = model.structured(ASK, Pick, repairs=2)
    assert pick.number == 1
    repair = model.calls[1]["messages"]
    assert repair[-2] == Message(role="assistant", content='{"colour": "red"}')
    assert "number: Field required" in repair[-1].content
    assert usage.prompt_tokens > 0 and len(model.calls) == 3


def test_repairs_are_bounded() -> None:
    model = ScriptedChatModel([], default='{"colour": 5}')
    with pytest.raises(InvalidModelOutput, match="no valid Pick after 1 repairs"):
        model.structured(ASK, Pick, repairs=1)
    assert len(model.calls) == 2


def test_transient_errors_pass_through_for_the_step_to_retry() -> None:
    model = ScriptedChatModel([LLMTransientError("429", retry_after=2)])
    with pytest.raises(LLMTransientError) as caught:
        model.chat(ASK)
    assert caught.value.retry_after == 2


def test_metered_model_records_every_call() -> None:
    seen: list[Usage] = []
    model = MeteredChatModel(
        ScriptedChatModel(['{"colour": "x"}', '{"colour": "y", "number": 2}']),
        lambda model, usage: seen.append(usage),
    )
    model.structured(ASK, Pick)
    assert len(seen) == 2
    assert sum((u for u in seen), Usage()).completion_tokens == 2 + 4
