"""A chat model that reports every call's token usage: how steps and jobs are metered."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agents.llm.base import ChatModel, Message, Reply, ResponseFormat, Usage


class MeteredChatModel(ChatModel):
    """Wraps a model; ``record`` gets the usage of each call that returned."""

    def __init__(self, inner: ChatModel, record: Callable[[Usage], None]) -> None:
        self.inner = inner
        self.record = record
        self.model = inner.model
        self.endpoint = inner.endpoint

    def chat(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        response_format: ResponseFormat = "text",
        json_schema: dict[str, Any] | None = None,
    ) -> Reply:
        reply = self.inner.chat(
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
            response_format=response_format,
            json_schema=json_schema,
        )
        self.record(reply.usage)
        return reply
