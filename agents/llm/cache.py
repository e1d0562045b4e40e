"""A Redis cache of deterministic chat calls, shared by every worker."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import redis

from agents.llm.base import ChatModel, Message, Reply, ResponseFormat, Usage

log = logging.getLogger(__name__)
KEY_PREFIX = "celeriac:llm:cache:"


class CachedChatModel(ChatModel):
    """Answers a repeated temperature-0 call from Redis instead of the endpoint.

    The key covers the endpoint, model, messages and every parameter; entries
    live ``ttl`` seconds. Calls with a temperature above 0 are not cached: their
    replies are meant to differ. A cached reply reports zero usage (nothing was
    spent) and ``cached=True``. Redis trouble never fails a call: it is a miss.
    """

    def __init__(self, inner: ChatModel, client: redis.Redis, *, ttl: int) -> None:
        self.inner = inner
        self.redis = client
        self.ttl = ttl
        self.model = inner.model
        self.endpoint = inner.endpoint

    def close(self) -> None:
        self.inner.close()

    def key(self, messages: Sequence[Message], params: dict[str, Any]) -> str:
        document = {
            "endpoint": self.endpoint,
            "model": self.model,
            "messages": [message.model_dump() for message in messages],
            **params,
        }
        digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
        return KEY_PREFIX + digest

    def chat(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        response_format: ResponseFormat = "text",
        json_schema: dict[str, Any] | None = None,
    ) -> Reply:
        params: dict[str, Any] = {
            "temperature": temperature,
            "max_tokens": max_tokens,
            "response_format": response_format,
            "json_schema": json_schema,
        }
        if temperature > 0:
            return self.inner.chat(messages, **params)
        key = self.key(messages, params)
        try:
            hit = self.redis.get(key)
        except redis.RedisError:
            log.warning("LLM cache unavailable; calling the model")
            hit = None
        if hit is not None:
            cached = Reply.model_validate_json(hit)
            return cached.model_copy(update={"cached": True, "usage": Usage()})
        reply = self.inner.chat(messages, **params)
        try:
            self.redis.set(key, reply.model_dump_json(), ex=self.ttl)
        except redis.RedisError:
            log.warning("LLM cache unavailable; reply not cached")
        return reply
