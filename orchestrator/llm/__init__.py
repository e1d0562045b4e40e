"""Choosing the chat model from settings: the openai SDK, or none (the offline path)."""

from __future__ import annotations

import os
from collections.abc import Callable

import redis

from agents.llm import ChatModel
from agents.llm.cache import CachedChatModel
from agents.llm.ratelimit import RateLimitedChatModel
from agents.llm.retrying import RetryingChatModel
from orchestrator import names
from orchestrator.errors import ConfigError
from orchestrator.settings import Settings


def resolve_backend(settings: Settings) -> str:
    """``openai`` or ``offline``; ``auto`` follows the openai SDK's own variables."""
    if settings.llm_backend != "auto":
        return settings.llm_backend
    configured = os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")
    return "openai" if configured else "offline"


def build_chat_model(
    settings: Settings,
    client: redis.Redis | None,
    on_wait: Callable[[str, float], None] | None = None,
) -> ChatModel | None:
    """The chat model agents get, or None when they should take their offline path.

    Around the endpoint: the shared rate limit (which every request passes, retries
    included), the retries, then the response cache (a hit spends no rate).
    ``client`` is the deployment's Redis (None: no deployment, so no limit or cache).
    """
    if resolve_backend(settings) == "offline":
        return None
    # Local OpenAI-compatible servers often need no key; the SDK insists on one.
    api_key = os.environ.get("OPENAI_API_KEY") or (
        "unused" if os.environ.get("OPENAI_BASE_URL") else None
    )
    import openai  # only workers that call a model pay for the SDK

    from agents.llm.openai_model import OpenAIChatModel

    try:
        model: ChatModel = OpenAIChatModel(
            settings.llm_model, api_key=api_key, timeout=settings.llm_timeout_seconds
        )
    except openai.OpenAIError as exc:
        raise ConfigError(
            f"cannot use the openai backend: {exc}. Set OPENAI_API_KEY (or OPENAI_BASE_URL "
            "for a local endpoint), or CELERIAC_LLM_BACKEND=offline"
        ) from exc
    limited = settings.llm_requests_per_minute or settings.llm_tokens_per_minute
    if client is not None and limited:
        model = RateLimitedChatModel(
            model,
            client,
            rpm=settings.llm_requests_per_minute,
            tpm=settings.llm_tokens_per_minute,
            prefix=names.LLM_BUCKET_PREFIX,
            max_wait=settings.llm_rate_limit_max_wait_seconds,
            on_wait=on_wait,
        )
    model = RetryingChatModel(model, attempts=settings.llm_attempts)
    if client is not None and settings.llm_cache:
        model = CachedChatModel(
            model, client, ttl=settings.llm_cache_ttl_seconds, prefix=names.LLM_CACHE_PREFIX
        )
    return model
