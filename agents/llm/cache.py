"""A Redis cache of deterministic chat calls, shared by every worker."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any, Unpack

import redis

from agents.llm.base import ChatModel, ChatModelWrapper, ChatOptions, Message, Reply, Usage

log = logging.getLogger(__name__)
# Options left out of a call take these values: the key spells every one out.
DEFAULTS: ChatOptions = {
    "temperature": 0.0,
    "max_tokens": None,
    "response_format": "text",
    "json_schema": None,
}


class CachedChatModel(ChatModelWrapper):
    """Answers a repeated temperature-0 call from Redis instead of the endpoint.

    The key covers the endpoint, model, messages and every parameter; entries
    live ``ttl`` seconds. Calls with a temperature above 0 are not cached: their
    replies are meant to differ. A cached reply reports zero usage (nothing was
    spent) and ``cached=True``. Redis trouble never fails a call: it is a miss.
    """

    def __init__(self, inner: ChatModel, client: redis.Redis, *, ttl: int, prefix: str) -> None:
        super().__init__(inner)
        self.redis = client
        self.ttl = ttl
        self.prefix = prefix  # of the entries' keys: the deployment names them

    def key(self, messages: Sequence[Message], params: dict[str, Any]) -> str:
        document = {
            "endpoint": self.endpoint,
            "model": self.model,
            "messages": [message.model_dump() for message in messages],
            **params,
        }
        digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
        return self.prefix + digest

    def chat(self, messages: Sequence[Message], **options: Unpack[ChatOptions]) -> Reply:
        params: dict[str, Any] = {**DEFAULTS, **options}
        on_text = params.pop("on_text", None)  # how a reply is heard is not what it is
        if params["temperature"] > 0:
            return self.inner.chat(messages, **options)
        key = self.key(messages, params)
        try:
            hit = self.redis.get(key)
        except redis.RedisError:
            log.warning("LLM cache unavailable; calling the model")
            hit = None
        if hit is not None:
            cached = Reply.model_validate_json(hit)
            if on_text is not None:
                on_text(cached.text)
            return cached.model_copy(update={"cached": True, "usage": Usage()})
        reply = self.inner.chat(messages, **options)
        try:
            self.redis.set(key, reply.model_dump_json(), ex=self.ttl)
        except redis.RedisError:
            log.warning("LLM cache unavailable; reply not cached")
        return reply
