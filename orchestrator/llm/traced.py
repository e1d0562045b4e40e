"""A span for each model call, named and shaped as OpenTelemetry's GenAI conventions say."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Unpack
from urllib.parse import urlsplit

from agents.llm.base import ChatModel, ChatModelWrapper, ChatOptions, Message, Reply
from orchestrator import tracing


class TracedChatModel(ChatModelWrapper):
    """Each ``chat`` a client span ``chat MODEL`` in the current trace: the model asked for
    and answering, the tokens, the server (its host and port only: never a key, never a
    password in a URL). Prompts and replies only with ``content``
    (CELERIAC_TRACE_CONTENT)."""

    def __init__(self, inner: ChatModel, *, content: bool) -> None:
        super().__init__(inner)
        self.content = content
        where = urlsplit(self.endpoint or "")
        self._server: dict[str, str | int] = {}
        if where.hostname:
            self._server["server.address"] = where.hostname
            if where.port:
                self._server["server.port"] = where.port

    def chat(self, messages: Sequence[Message], **options: Unpack[ChatOptions]) -> Reply:
        attributes: dict[str, str | int | float | bool] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": self.model,
            "gen_ai.request.temperature": options.get("temperature", 0.0),
            **self._server,
        }
        if options.get("max_tokens") is not None:
            attributes["gen_ai.request.max_tokens"] = int(options["max_tokens"] or 0)
        if self.content:
            asked = [{"role": m.role, "parts": [_text(m.content)]} for m in messages]
            attributes["gen_ai.input.messages"] = json.dumps(asked)
        with tracing.span(f"chat {self.model}", attributes=attributes, kind="CLIENT") as span:
            reply = self.inner.chat(messages, **options)
            span.set(
                {
                    "gen_ai.response.model": reply.model,
                    "gen_ai.usage.input_tokens": reply.usage.prompt_tokens,
                    "gen_ai.usage.output_tokens": reply.usage.completion_tokens,
                    "celeriac.llm.cached": reply.cached,
                }
            )
            if self.content:
                said = [{"role": "assistant", "parts": [_text(reply.text)]}]
                span.set({"gen_ai.output.messages": json.dumps(said)})
            return reply


def _text(content: str) -> dict[str, str]:
    return {"type": "text", "content": content}
