"""A chat model that checks the budget before, and reports usage after, every call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agents.llm.base import (
    ChatModel,
    Message,
    Reply,
    ResponseFormat,
    Usage,
    estimate_tokens,
)


class MeteredChatModel(ChatModel):
    """Wraps a model for one step.

    ``check`` gets each call's estimated tokens first and may raise
    ``BudgetExceeded``; ``record`` gets the model and usage of each reply.
    """

    def __init__(
        self,
        inner: ChatModel,
        record: Callable[[str, Usage], None],
        check: Callable[[int], None] | None = None,
    ) -> None:
        self.inner = inner
        self.record = record
        self.check = check
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
        if self.check is not None:
            self.check(estimate_tokens(messages, max_tokens))
        reply = self.inner.chat(
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
            response_format=response_format,
            json_schema=json_schema,
        )
        self.record(reply.model, reply.usage)
        return reply
