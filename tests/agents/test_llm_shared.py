"""The response cache and the shared rate limit, on a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from agents.llm import LLMTransientError, Message, ScriptedChatModel
from agents.llm.cache import CachedChatModel
from agents.llm.errors import RateLimitFull
from agents.llm.ratelimit import RateLimitedChatModel
from agents.llm.retrying import RetryingChatModel
from orchestrator import names
from orchestrator.embedded.redis_server import RedisServer, free_port

CACHE, BUCKETS = names.LLM_CACHE_PREFIX, names.LLM_BUCKET_PREFIX

ASK = [Message(role="user", content="hello")]


@pytest.fixture
def r(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


def scripted(default: str = "hi") -> ScriptedChatModel:
    # A model name of its own per test: caches and buckets are keyed by it.
    return ScriptedChatModel([], default=default, model=f"m-{uuid.uuid4().hex[:8]}")


def test_a_deterministic_call_is_answered_once_then_from_the_cache(r: redis.Redis) -> None:
    inner = scripted("cached answer")
    model = CachedChatModel(inner, r, ttl=60, prefix=CACHE)
    first, second = model.chat(ASK), model.chat(ASK)
    assert len(inner.calls) == 1
    assert (first.cached, second.cached) == (False, True)
    assert second.text == "cached answer" and second.usage.total_tokens == 0
    assert (
        0
        < r.ttl(
            model.key(
                ASK,
                {
                    "temperature": 0.0,
                    "max_tokens": None,
                    "response_format": "text",
                    "json_schema": None,
                },
            )
        )
        <= 60
    )


def test_the_key_covers_messages_and_parameters(r: redis.Redis) -> None:
    inner = scripted()
    model = CachedChatModel(inner, r, ttl=60, prefix=CACHE)
    model.chat(ASK)
    model.chat([Message(role="user", content="hello!")])
    model.chat(ASK, max_tokens=5)
    model.chat(ASK, response_format="json_object")
    assert len(inner.calls) == 4


def test_sampled_calls_are_not_cached(r: redis.Redis) -> None:
    inner = scripted()
    model = CachedChatModel(inner, r, ttl=60, prefix=CACHE)
    model.chat(ASK, temperature=0.7)
    model.chat(ASK, temperature=0.7)
    assert len(inner.calls) == 2


def test_an_unreachable_cache_is_a_miss_not_a_failure() -> None:
    down = redis.Redis(port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    inner = scripted("still answered")
    assert CachedChatModel(inner, down, ttl=60, prefix=CACHE).chat(ASK).text == "still answered"
    down.close()


def test_workers_share_one_bucket_per_endpoint_and_model(r: redis.Redis) -> None:
    inner = scripted()
    # Two workers' models for the same endpoint and model: 2 requests a minute between them.
    one = RateLimitedChatModel(inner, r, prefix=BUCKETS, rpm=2, tpm=0, max_wait=0)
    two = RateLimitedChatModel(inner, r, prefix=BUCKETS, rpm=2, tpm=0, max_wait=0)
    one.chat(ASK)
    two.chat(ASK)
    with pytest.raises(LLMTransientError, match="still full") as caught:
        one.chat(ASK)
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 30
    assert len(inner.calls) == 2


def test_a_full_bucket_is_waited_for_within_max_wait(r: redis.Redis) -> None:
    inner = scripted()
    model = RateLimitedChatModel(
        inner, r, prefix=BUCKETS, rpm=60, tpm=0, max_wait=5
    )  # one a second
    # The bucket holds a minute's worth; once drained, a request must wait for a refill.
    # (It refills while we drain, so count takes up to a bound rather than exactly 60.)
    taken = 0
    while model.acquire(0) == 0:
        taken += 1
        assert taken <= 70, "the bucket never ran dry"
    assert taken >= 60
    model.chat(ASK)  # waits for a refill rather than failing
    assert len(inner.calls) == 1


def test_token_limits_settle_on_actual_usage(r: redis.Redis) -> None:
    inner = scripted("one two three")
    model = RateLimitedChatModel(inner, r, prefix=BUCKETS, rpm=0, tpm=10_000, max_wait=0)
    model.chat(ASK, max_tokens=1000)
    left = float(r.hget(model.key, "tok") or 0)
    # Only what the call used (1 prompt word + 3 reply words) is gone, not the estimate.
    assert 10_000 - 4 - 1 <= left <= 10_000


def test_an_endpoint_asking_to_wait_shuts_the_bucket_for_every_worker(r: redis.Redis) -> None:
    slow_down = LLMTransientError("the model endpoint answered 429", retry_after=30)
    inner = ScriptedChatModel([slow_down, "fine"], model=f"m-{uuid.uuid4().hex[:8]}")
    told = RateLimitedChatModel(inner, r, prefix=BUCKETS, rpm=1000, tpm=0, max_wait=0)
    other = RateLimitedChatModel(inner, r, prefix=BUCKETS, rpm=1000, tpm=0, max_wait=0)
    with pytest.raises(LLMTransientError, match="429"):
        told.chat(ASK)
    # Another worker's next request waits too, though the bucket has plenty left.
    assert 29 < other.acquire(0) <= 30
    with pytest.raises(RateLimitFull, match="still full") as caught:
        other.chat(ASK)
    assert caught.value.retry_after is not None and caught.value.retry_after > 29
    assert len(inner.calls) == 1


def test_a_full_rate_limit_is_not_retried_within_the_call(r: redis.Redis) -> None:
    inner = scripted()
    limited = RateLimitedChatModel(inner, r, prefix=BUCKETS, rpm=1, tpm=0, max_wait=0)
    model = RetryingChatModel(limited, attempts=5, backoff=0.01)
    model.chat(ASK)
    with pytest.raises(RateLimitFull):
        model.chat(ASK)  # at once: waiting is for the step's retry, not a worker thread
    assert len(inner.calls) == 1
