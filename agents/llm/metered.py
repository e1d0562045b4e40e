"""A chat model that checks the budget before, and reports usage after, every call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Unpack

from agents.llm.base import (
    ChatModel,
    ChatModelWrapper,
    ChatOptions,
    Message,
    Reply,
    Usage,
    estimate_tokens,
)


class MeteredChatModel(ChatModelWrapper):
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
        super().__init__(inner)
        self.record = record
        self.check = check

    def chat(self, messages: Sequence[Message], **options: Unpack[ChatOptions]) -> Reply:
        if self.check is not None:
            self.check(estimate_tokens(messages, options.get("max_tokens")))
        reply = self.inner.chat(messages, **options)
        self.record(reply.model, reply.usage)
        return reply
