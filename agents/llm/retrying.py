"""Retrying a model's transient failures within one call, around the shared rate limit.

Each try goes through whatever the wrapped model is, so when that is the rate limit
around the endpoint, every request the endpoint receives, retries included, is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from agents.backoff import backoff_delay
from agents.llm.base import ChatModel, ChatModelWrapper, ChatOptions, Message, Reply
from agents.llm.errors import LLMTransientError, RateLimitFull


def _worth_retrying(error: BaseException) -> bool:
    # A full rate limit already waited as long as a call should: the step retries later.
    return isinstance(error, LLMTransientError) and not isinstance(error, RateLimitFull)


class _WaitRetryAfter:
    """The retry policy (``agents.backoff``), honouring the endpoint's ``Retry-After``."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial, self.maximum = initial, maximum

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        retry_after = error.retry_after if isinstance(error, LLMTransientError) else None
        return backoff_delay(self.initial, self.maximum, state.attempt_number, retry_after)


class RetryingChatModel(ChatModelWrapper):
    """Tries a call up to ``attempts`` times while it fails transiently, with exponential
    backoff and jitter from ``backoff`` seconds; what still fails is raised for the step
    to retry later."""

    def __init__(
        self,
        inner: ChatModel,
        *,
        attempts: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        super().__init__(inner)
        self._retrying = Retrying(
            retry=retry_if_exception(_worth_retrying),
            stop=stop_after_attempt(attempts),
            wait=_WaitRetryAfter(backoff, max_backoff),
            reraise=True,
        )

    def chat(self, messages: Sequence[Message], **options: Unpack[ChatOptions]) -> Reply:
        return self._retrying(self.inner.chat, messages, **options)
