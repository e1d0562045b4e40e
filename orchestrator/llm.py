"""Choosing the chat model from settings: the openai SDK, or none (the offline path)."""

from __future__ import annotations

import os

import openai

from agents.llm import ChatModel, OpenAIChatModel
from orchestrator.errors import ConfigError
from orchestrator.settings import Settings


def resolve_backend(settings: Settings) -> str:
    """``openai`` or ``offline``; ``auto`` follows the openai SDK's own variables."""
    if settings.llm_backend != "auto":
        return settings.llm_backend
    configured = os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")
    return "openai" if configured else "offline"


def build_chat_model(settings: Settings) -> ChatModel | None:
    """The chat model agents get, or None when they should take their offline path."""
    if resolve_backend(settings) == "offline":
        return None
    # Local OpenAI-compatible servers often need no key; the SDK insists on one.
    api_key = os.environ.get("OPENAI_API_KEY") or (
        "unused" if os.environ.get("OPENAI_BASE_URL") else None
    )
    try:
        return OpenAIChatModel(
            settings.llm_model,
            api_key=api_key,
            timeout=settings.llm_timeout_seconds,
            attempts=settings.llm_attempts,
        )
    except openai.OpenAIError as exc:
        raise ConfigError(
            f"cannot use the openai backend: {exc}. Set OPENAI_API_KEY (or OPENAI_BASE_URL "
            "for a local endpoint), or CELERIAC_LLM_BACKEND=offline"
        ) from exc
