"""``ChatModel`` on the official ``openai`` SDK, for any OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import time
import weakref
from collections.abc import Sequence
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from agents.llm.base import ChatModel, Message, Reply, ResponseFormat, TextSink, Usage
from agents.llm.errors import LLMPermanentError, LLMTransientError, StructuredOutputUnsupported
from agents.llm.loop import BackgroundLoop, LoopTimeout, shared_loop

log = logging.getLogger(__name__)
# The status codes the openai SDK itself treats as worth retrying.
TRANSIENT_STATUS = frozenset({408, 409, 429})


def retry_after_seconds(response: Any) -> float | None:
    """What ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms`` asks for."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def refused(exc: BaseException) -> OSError | None:
    """The socket error under an SDK error, if it is one other than a timeout.

    The SDK's aiohttp transport reports a refused connection as a connect timeout.
    """
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


def translate(
    exc: openai.OpenAIError, *, wanted_schema: bool, api_key: str | None = None
) -> Exception:
    """The celeriac error for an SDK error: its type says whether to retry.

    An endpoint may quote the API key it was sent ("Incorrect API key provided: ..."):
    ``api_key`` is masked wherever it appears, as errors end up in results and logs.
    """

    def said(text: object) -> str:
        return str(text).replace(api_key, "***") if api_key else str(text)

    if isinstance(exc, openai.APIConnectionError) and (refusal := refused(exc)):
        return LLMTransientError(f"cannot reach the model endpoint: {said(refusal)}")
    if isinstance(exc, openai.APITimeoutError):
        return LLMTransientError(f"the model endpoint timed out: {said(exc)}")
    if isinstance(exc, openai.APIConnectionError):
        return LLMTransientError(f"cannot reach the model endpoint: {said(exc)}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in TRANSIENT_STATUS or status >= 500:
            return LLMTransientError(
                f"the model endpoint answered {status}: {said(exc.message)}",
                retry_after=retry_after_seconds(exc.response),
            )
        if wanted_schema and status in (400, 422):
            return StructuredOutputUnsupported(
                f"the endpoint refused a JSON schema: {said(exc.message)}"
            )
        return LLMPermanentError(f"the model endpoint answered {status}: {said(exc.message)}")
    return LLMPermanentError(f"the model endpoint failed: {said(exc)}")


_closing: set[asyncio.Future[None]] = set()


def close_client(loop: BackgroundLoop, client: openai.AsyncOpenAI, pid: int) -> None:
    """Close ``client`` on ``loop`` if this process made it (a forked child's copy is not
    its to close)."""
    if pid != os.getpid() or client.is_closed():
        return
    if loop.in_loop():  # a model collected on the loop's thread: it cannot wait there
        closing = asyncio.ensure_future(client.close())
        _closing.add(closing)  # the loop keeps only a weak reference to a task
        closing.add_done_callback(_closing.discard)
        return
    try:
        loop.run(client.close(), timeout=5)
    except Exception:
        log.debug("could not close the model client", exc_info=True)


class OpenAIChatModel(ChatModel):
    """Chat completions over HTTP with the ``openai`` client.

    The key and endpoint follow the SDK's conventions (``OPENAI_API_KEY``,
    ``OPENAI_BASE_URL``) unless given. Each call is one request of at most ``timeout``
    seconds (the SDK's own retries are off); ``RetryingChatModel`` retries around it.

    ``chat`` may be called from any number of threads at once. The requests run on this
    process's event loop (``agents.llm.loop``) through the SDK's async client on aiohttp,
    whose connection pool costs the same per request at any concurrency.
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.model = model
        self.timeout = timeout
        self._options: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": 0,
        }
        self._loop = shared_loop()
        # Made now, so that a missing key is an error here rather than at the first call.
        self._client, self._pid = self._connect(), os.getpid()
        self.endpoint = str(self._client.base_url)

    def _connect(self) -> openai.AsyncOpenAI:
        async def connect() -> openai.AsyncOpenAI:
            return openai.AsyncOpenAI(**self._options, http_client=openai.DefaultAioHttpClient())

        client = self._loop.run(connect())
        # Closed when this model is, or at exit: aiohttp complains of sessions left open.
        weakref.finalize(self, close_client, self._loop, client, os.getpid())
        return client

    @property
    def client(self) -> openai.AsyncOpenAI:
        """This process's client: a forked child makes its own (sockets are not shared)."""
        if self._pid != os.getpid():
            self._client, self._pid = self._connect(), os.getpid()
        return self._client

    def close(self) -> None:
        close_client(self._loop, self._client, self._pid)

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
        request = self._request(messages, temperature, max_tokens, response_format, json_schema)
        wanted_schema = response_format == "json_schema"
        client = self.client
        try:
            if on_text is not None:
                # The timeout holds between pieces; the backstop allows a long answer.
                return self._loop.run(
                    self._streamed(client, request, on_text), timeout=4 * self.timeout + 5
                )
            # The SDK's own POST: ``chat.completions.create`` would first walk the request
            # through its TypedDict transform, which leaves plain JSON such as this as it is
            # and costs a third of each call's CPU (`python -m benchmarks sdk`). The response
            # is parsed the same way.
            # The SDK enforces the timeout; the loop's own is a backstop a little longer.
            completion = self._loop.run(
                client.post(
                    "/chat/completions",
                    body=request,
                    cast_to=ChatCompletion,
                    options={"timeout": self.timeout},
                ),
                timeout=self.timeout + 5,
            )
        except LoopTimeout as exc:
            raise LLMTransientError(f"the model endpoint timed out: {exc}") from None
        except openai.OpenAIError as exc:
            # Not chained: the SDK's error may quote the API key.
            raise translate(exc, wanted_schema=wanted_schema, api_key=client.api_key) from None
        except json.JSONDecodeError as exc:  # a JSON content type around a cut-off body
            raise LLMTransientError(f"the model endpoint sent malformed JSON: {exc}") from exc
        if not isinstance(completion, ChatCompletion):  # e.g. an HTML page with status 200
            raise LLMPermanentError(
                f"{self.endpoint} did not answer with a chat completion; is it an "
                f"OpenAI-compatible endpoint? It sent: {str(completion)[:200]!r}"
            )
        return self._reply(completion)

    def _request(
        self,
        messages: Sequence[Message],
        temperature: float,
        max_tokens: int | None,
        response_format: ResponseFormat,
        json_schema: dict[str, Any] | None,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [message.model_dump() for message in messages],
            "temperature": temperature,
        }
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        if response_format == "json_schema":
            request["response_format"] = {"type": "json_schema", "json_schema": json_schema}
        elif response_format == "json_object":
            request["response_format"] = {"type": "json_object"}
        return request

    def _reply(self, completion: ChatCompletion) -> Reply:
        if not completion.choices:
            raise LLMTransientError("the model endpoint returned no choices")
        return _reply(
            completion.choices[0].message.content, completion.model, completion.usage, self.model
        )

    async def _streamed(
        self, client: openai.AsyncOpenAI, request: dict[str, Any], on_text: TextSink
    ) -> Reply:
        """The reply as a stream of chunks, each piece of text handed on as it arrives."""
        body = {**request, "stream": True, "stream_options": {"include_usage": True}}
        stream = await client.post(
            "/chat/completions",
            body=body,
            cast_to=ChatCompletion,
            options={"timeout": self.timeout},
            stream=True,
            stream_cls=openai.AsyncStream[ChatCompletionChunk],
        )
        pieces: list[str] = []
        model, usage = "", None
        async for chunk in stream:
            model = chunk.model or model
            usage = chunk.usage or usage
            for choice in chunk.choices:
                if choice.delta.content:
                    pieces.append(choice.delta.content)
                    on_text(choice.delta.content)
        return _reply("".join(pieces), model, usage, self.model)


def _reply(text: str | None, model: str | None, usage: Any, default_model: str) -> Reply:
    return Reply(
        text=text or "",
        model=model or default_model,
        usage=Usage(
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        ),
    )
