"""A chat model that plays back a script: the test double of ``ChatModel``."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from agents.llm.base import ChatModel, Message, Reply, ResponseFormat, TextSink, Usage

Line = str | Exception | Callable[[Sequence[Message]], str]


class ScriptedChatModel(ChatModel):
    """Answers each call with the next line of its script.

    A line is a reply text, an exception to raise, or a function of the
    messages. Every call is recorded in ``calls``.

    >>> model = ScriptedChatModel(["first", LLMTransientError("429"), "second"])
    """

    def __init__(
        self, script: Sequence[Line], *, model: str = "scripted", default: Line | None = None
    ) -> None:
        self.model = model
        self.endpoint = "scripted://"
        self._script = list(script)
        self._default = default
        self._lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []

    def chat(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        response_format: ResponseFormat = "text",
        json_schema: dict[str, Any] | None = None,
        on_text: TextSink | None = None,
    ) -> Reply:
        with self._lock:
            self.calls.append(
                {
                    "messages": list(messages),
                    "temperature": temperature,
                    "max_tokens": max_tokens,
                    "response_format": response_format,
                    "json_schema": json_schema,
                }
            )
            if self._script:
                line = self._script.pop(0)
            elif self._default is not None:
                line = self._default
            else:
                raise AssertionError(
                    f"the script of {self.model!r} ran out at call {len(self.calls)}"
                )
        if isinstance(line, Exception):
            raise line
        text = line if isinstance(line, str) else line(messages)
        if on_text is not None:  # a word at a time, as a model streams
            for word in re.findall(r"\S+\s*|\s+", text):
                on_text(word)
        prompt = sum(len(message.content.split()) for message in messages)
        return Reply(
            text=text,
            model=self.model,
            usage=Usage(prompt_tokens=prompt, completion_tokens=len(text.split())),
        )
