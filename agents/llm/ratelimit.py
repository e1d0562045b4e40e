"""One rate limit for every worker on every machine: a token bucket in Redis.

Celery's ``rate_limit`` counts per worker; an endpoint's limits count per key.
Each (endpoint, model) has one bucket of requests per minute and one of
tokens per minute, refilled continuously, taken atomically by a Lua script.
When the endpoint answers "slow down" with a ``Retry-After``, the bucket is shut
for that long for everyone, not only for the worker that was told.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Unpack

import redis

from agents.llm.base import (
    ChatModel,
    ChatModelWrapper,
    ChatOptions,
    Message,
    Reply,
    estimate_tokens,
)
from agents.llm.errors import LLMTransientError, RateLimitFull

# KEYS[1] bucket; ARGV: requests/min, tokens/min (0 = no limit), requests, tokens wanted.
# Takes them and returns "0", or takes nothing and returns the seconds to wait.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local want_req, want_tok = tonumber(ARGV[3]), tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'req', 'tok', 'ts', 'shut')
local req, tok = tonumber(b[1]) or rpm, tonumber(b[2]) or tpm
local elapsed = math.max(0, now - (tonumber(b[3]) or now))
req = math.min(rpm, req + elapsed * rpm / 60)
tok = math.min(tpm, tok + elapsed * tpm / 60)
local wait = math.max(0, (tonumber(b[4]) or 0) - now)
if rpm > 0 and req < want_req then wait = math.max(wait, (want_req - req) * 60 / rpm) end
if tpm > 0 and tok < want_tok then wait = math.max(wait, (want_tok - tok) * 60 / tpm) end
if wait == 0 then
  req = req - want_req
  tok = tok - want_tok
end
redis.call('HSET', KEYS[1], 'req', req, 'tok', tok, 'ts', now)
redis.call('EXPIRE', KEYS[1], 120)
return tostring(wait)
"""

# KEYS[1] bucket; ARGV[1] seconds the endpoint asked everyone to wait.
_SHUT = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
local shut = tonumber(redis.call('HGET', KEYS[1], 'shut')) or 0
if until_ > shut then redis.call('HSET', KEYS[1], 'shut', string.format('%.6f', until_)) end
redis.call('EXPIRE', KEYS[1], 120)
"""


class RateLimitedChatModel(ChatModelWrapper):
    """Waits for the shared bucket before each call; gives up after ``max_wait`` seconds.

    Giving up raises ``RateLimitFull`` with ``retry_after``, so the step is
    retried later instead of holding a worker thread.
    """

    def __init__(
        self,
        inner: ChatModel,
        client: redis.Redis,
        *,
        rpm: int,
        tpm: int,
        prefix: str,
        max_wait: float = 60.0,
        on_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        super().__init__(inner)
        self.redis = client
        self.rpm = rpm
        self.tpm = tpm
        self.max_wait = max_wait
        self.on_wait = on_wait  # (model, seconds): told of every wait, e.g. for metrics
        name = hashlib.sha256(f"{inner.endpoint} {inner.model}".encode()).hexdigest()[:24]
        self.key = prefix + name  # one bucket per endpoint and model
        self._take = client.register_script(_TAKE)
        self._shut = client.register_script(_SHUT)

    def acquire(self, tokens: int) -> float:
        """Take one request and ``tokens`` from the buckets; 0, or the seconds to wait."""
        tokens = min(tokens, self.tpm) if self.tpm else tokens
        return float(self._take(keys=[self.key], args=[self.rpm, self.tpm, 1, tokens]))

    def chat(self, messages: Sequence[Message], **options: Unpack[ChatOptions]) -> Reply:
        estimate = estimate_tokens(messages, options.get("max_tokens"))
        deadline = time.monotonic() + self.max_wait
        while (wait := self.acquire(estimate)) > 0:
            if time.monotonic() + wait > deadline:
                raise RateLimitFull(
                    f"rate limit of {self.model} at {self.endpoint} "
                    f"({self.rpm or 'no'} requests, {self.tpm or 'no'} tokens a minute) "
                    f"still full after {self.max_wait:g}s",
                    retry_after=wait,
                )
            time.sleep(wait)
            if self.on_wait is not None:
                self.on_wait(self.model, wait)
        try:
            reply = self.inner.chat(messages, **options)
        except LLMTransientError as exc:
            if exc.retry_after:  # the endpoint's own limit: everyone waits
                self._shut(keys=[self.key], args=[exc.retry_after])
            raise
        if self.tpm:  # settle the estimate against what the call really used
            self.redis.hincrbyfloat(self.key, "tok", estimate - reply.usage.total_tokens)
        return reply
