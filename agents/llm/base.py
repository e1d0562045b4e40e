"""The chat-model interface every agent uses, and structured output on top of it."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypedDict, TypeVar, Unpack

from pydantic import BaseModel, ConfigDict, ValidationError

from agents.llm.errors import InvalidModelOutput, StructuredOutputUnsupported

M = TypeVar("M", bound=BaseModel)
ResponseFormat = Literal["text", "json_object", "json_schema"]
# Hears each piece of a reply's text as it arrives.
TextSink = Callable[[str], None]


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class Usage(BaseModel):
    """Tokens a call (or a sum of calls) used."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class Reply(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    model: str
    usage: Usage = Usage()
    cached: bool = False


def estimate_tokens(messages: Sequence[Message], max_tokens: int | None) -> int:
    """A call's likely tokens before it is made: ~4 characters a token, plus the reply."""
    prompt = sum(len(message.content) for message in messages) // 4 + 4 * len(messages)
    return prompt + (max_tokens or 256)


class ChatOptions(TypedDict, total=False):
    """The keyword options of ``ChatModel.chat``, for models that pass them on."""

    temperature: float
    max_tokens: int | None
    response_format: ResponseFormat
    json_schema: dict[str, Any] | None
    on_text: TextSink | None


class ChatModel(ABC):
    """A chat model: messages in, one reply out.

    ``chat`` raises ``LLMTransientError`` for what may pass (429, 5xx, timeouts)
    after its own retries, ``LLMPermanentError`` for what will not, and
    ``StructuredOutputUnsupported`` when asked for a JSON schema it cannot do. With
    ``on_text`` it streams: each piece of the reply's text goes to ``on_text`` as it
    arrives (a model that cannot stream hands it the whole text at once), and the
    ``Reply`` it returns is the whole of it as ever.
    """

    model: str
    endpoint: str

    @abstractmethod
    def chat(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        response_format: ResponseFormat = "text",
        json_schema: dict[str, Any] | None = None,
        on_text: TextSink | None = None,
    ) -> Reply: ...

    def close(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Release connections; the default has none."""

    def structured(
        self,
        messages: Sequence[Message],
        output: type[M],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        repairs: int = 2,
        check: Callable[[M], M] | None = None,
        on_text: TextSink | None = None,
    ) -> tuple[M, Usage]:
        """Ask for an ``output`` instance; return it and the usage of every call made.

        Asks for ``output``'s JSON schema; an endpoint that cannot do that gets
        JSON mode plus validation instead. Invalid output is sent back with the
        validation error, at most ``repairs`` times. ``check`` may validate
        further: a ``ValueError`` it raises is sent back the same way. ``on_text``
        hears the JSON text of each call as it is written (``agents.llm.jsonstream``
        picks a field out of it).
        """
        schema = {"name": output.__name__, "schema": output.model_json_schema(), "strict": False}
        conversation = list(messages)
        usage = Usage()
        mode: ResponseFormat = "json_schema"
        problem = ""
        for _ in range(repairs + 1):
            try:
                reply = self._ask(conversation, mode, schema, temperature, max_tokens, on_text)
            except StructuredOutputUnsupported:
                mode = "json_object"
                conversation = [*conversation, _schema_instruction(output)]
                reply = self._ask(conversation, mode, schema, temperature, max_tokens, on_text)
            usage += reply.usage
            try:
                value = output.model_validate_json(_strip_fences(reply.text))
                return (check(value) if check else value), usage
            except ValidationError as exc:
                problem = _describe(exc)
            except ValueError as exc:  # from check
                problem = str(exc)
            conversation = [*conversation, *_repair(reply.text, problem)]
        raise InvalidModelOutput(
            f"model {self.model!r} gave no valid {output.__name__} after {repairs} repairs: "
            f"{problem}"
        )

    def _ask(
        self,
        conversation: Sequence[Message],
        mode: ResponseFormat,
        schema: dict[str, Any],
        temperature: float,
        max_tokens: int | None,
        on_text: TextSink | None,
    ) -> Reply:
        return self.chat(
            conversation,
            temperature=temperature,
            max_tokens=max_tokens,
            response_format=mode,
            json_schema=schema if mode == "json_schema" else None,
            on_text=on_text,
        )


def _repair(text: str, problem: str) -> list[Message]:
    """The invalid reply, and the request to answer again, saying what was wrong."""
    again = (
        f"That reply is not valid: {problem}. Answer again with only a JSON object that "
        "matches the schema."
    )
    return [Message(role="assistant", content=text), Message(role="user", content=again)]


def _schema_instruction(output: type[BaseModel]) -> Message:
    return Message(
        role="system",
        content=(
            "Reply with only a JSON object matching this JSON schema, no prose:\n"
            + json.dumps(output.model_json_schema())
        ),
    )


def _strip_fences(text: str) -> str:
    """Models in JSON mode sometimes still wrap the object in a ```json fence."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[-1].rsplit("```", 1)[0]
    return stripped


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where + ': ' if where else ''}{error['msg']}")
    return "; ".join(parts)


class ChatModelWrapper(ChatModel):
    """A model around another (cache, rate limit, meter): same name and endpoint.

    Subclasses override ``chat(messages, **options)`` and pass ``options`` on.
    """

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.model = inner.model
        self.endpoint = inner.endpoint

    def close(self) -> None:
        self.inner.close()

    def chat(self, messages: Sequence[Message], **options: Unpack[ChatOptions]) -> Reply:
        return self.inner.chat(messages, **options)
