"""An OpenAI-compatible HTTP server for tests: real HTTP on 127.0.0.1, scripted answers.

It serves ``POST /v1/chat/completions`` and ``GET /v1/models`` (and ``/v1/models/{id}``) to the
real ``openai`` client. Each chat request takes the next behaviour from a queue, or the default
when the queue is empty. Every request is recorded, so a test can assert on what the client sent.

    with LLMServer() as server:
        server.script(RateLimited(retry_after=1), Reply.of_json({"ok": True}), Hang())
        client = openai.OpenAI(
            base_url=server.base_url, api_key="test", max_retries=0, timeout=5
        )
        ...
        assert server.chat_requests[0].body["temperature"] == 0
        assert server.chat_requests[0].headers["authorization"] == "Bearer test"

Behaviours (frozen dataclasses):

- ``Reply(text, usage=None, delay=0.0, finish_reason="stop", piece_delay=0.0)``;
  ``Reply.of_json(document)``. Usage defaults to word counts (prompt: words of all messages;
  completion: words of the text). A request with ``"stream": true`` gets it as Server-Sent
  Events, a word a chunk, ``piece_delay`` seconds apart, then a chunk with the usage.
- ``MalformedJSON(text)``: a normal answer whose content is not valid JSON.
- ``RateLimited(retry_after=1.0)``: 429 with a ``Retry-After`` header (seconds; None omits it).
- ``ServerError(status=500)``: 500, 502, 503 or any 5xx.
- ``ErrorReply(status, message, type, param, code)``: any other error in the OpenAI error shape.
  ``UNSUPPORTED_JSON_SCHEMA`` is the 400 an endpoint without structured outputs returns.
- ``NotJSON(body, status=200, content_type="text/html")``: an HTTP body that is not JSON at all.
- ``Hang()``: hold the request open until the server stops; stopping does not wait for it.
- ``Respond(fn)``: ``fn(request)`` returns a behaviour or a string; ``Respond(echo)`` echoes the
  last user message.

``LLMServer(structured_outputs=False)`` answers every request that asks for a ``json_schema``
``response_format`` with ``UNSUPPORTED_JSON_SCHEMA``, without taking a behaviour from the queue,
so a client's fallback to JSON mode gets the next scripted answer.

A behaviour that raises is answered with a 500 and re-raised when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Usage:
    """Token usage reported with an answer."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it; header names are lower-case."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: dict[str, Any]
    raw: bytes
    received_at: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def last_user_message(self) -> str:
        users = [m for m in self.messages if isinstance(m, dict) and m.get("role") == "user"]
        return _text_of(users[-1].get("content")) if users else ""


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    # A streamed answer: these pieces, written one by one with a pause between them.
    pieces: tuple[bytes, ...] | None = None
    piece_delay: float = 0.0


@dataclass(frozen=True)
class _Call:
    request: RecordedRequest
    model: str
    stopping: threading.Event

    @property
    def stream(self) -> bool:
        return bool(self.request.body.get("stream"))


@dataclass(frozen=True)
class Reply:
    """Answer with ``text`` after ``delay`` seconds."""

    text: str
    usage: Usage | None = None
    delay: float = 0.0
    finish_reason: str = "stop"
    piece_delay: float = 0.0

    @classmethod
    def of_json(cls, document: Any, usage: Usage | None = None, delay: float = 0.0) -> Reply:
        """Answer with a JSON document as the message content."""
        return cls(json.dumps(document), usage=usage, delay=delay)

    def _respond(self, call: _Call) -> _Response | None:
        if self.delay > 0 and call.stopping.wait(self.delay):
            return None
        usage = self.usage or Usage(
            prompt_tokens=sum(_words(_text_of(m.get("content"))) for m in call.request.messages),
            completion_tokens=_words(self.text),
        )
        if call.stream:
            return self._streamed(call, usage)
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        }
        return _json_response(200, completion)

    def _streamed(self, call: _Call, usage: Usage) -> _Response:
        head: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": call.model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            document = {**head, "choices": [choice] if delta or finish else [], **more}
            return f"data: {json.dumps(document)}\n\n".encode()

        words = re.findall(r"\S+\s*|\s+", self.text)
        pieces = [chunk({"role": "assistant", "content": ""})]
        pieces += [chunk({"content": word}) for word in words]
        pieces.append(chunk({}, self.finish_reason))
        counted = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        }
        pieces += [chunk({}, usage=counted), b"data: [DONE]\n\n"]
        return _Response(
            200,
            b"".join(pieces),
            content_type="text/event-stream",
            pieces=tuple(pieces),
            piece_delay=self.piece_delay,
        )


@dataclass(frozen=True)
class MalformedJSON:
    """A normal answer whose content is not valid JSON (for structured-output calls)."""

    text: str = '{"steps": [{"id": "s1", "agent": "retrieval", "input": {"query": '

    def _respond(self, call: _Call) -> _Response | None:
        return Reply(self.text)._respond(call)


@dataclass(frozen=True)
class ErrorReply:
    """An error in the OpenAI error shape."""

    status: int = 400
    message: str = "Invalid request."
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None

    def _respond(self, call: _Call) -> _Response | None:
        return _error(self.status, self.message, self.type, self.param, self.code)


UNSUPPORTED_JSON_SCHEMA = ErrorReply(
    400,
    "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
    param="response_format",
)


@dataclass(frozen=True)
class RateLimited:
    """429 Too Many Requests, with ``Retry-After: retry_after`` unless it is None."""

    retry_after: float | None = 1.0
    message: str = "Rate limit reached for requests."

    def _respond(self, call: _Call) -> _Response | None:
        headers = {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}
        return _error(429, self.message, "requests", None, "rate_limit_exceeded", headers)


@dataclass(frozen=True)
class ServerError:
    """A 5xx error in the OpenAI error shape."""

    status: int = 500
    message: str = "The server had an error while processing your request."

    def __post_init__(self) -> None:
        if not 500 <= self.status <= 599:
            raise ValueError(f"ServerError status must be 5xx, not {self.status}")

    def _respond(self, call: _Call) -> _Response | None:
        return _error(self.status, self.message, "server_error", None, None)


@dataclass(frozen=True)
class NotJSON:
    """An HTTP body that is not JSON at all, as a misconfigured proxy might send."""

    body: str = "<html><body><h1>It works!</h1></body></html>"
    status: int = 200
    content_type: str = "text/html; charset=utf-8"

    def _respond(self, call: _Call) -> _Response | None:
        return _Response(self.status, self.body.encode(), self.content_type)


@dataclass(frozen=True)
class Hang:
    """Hold the request open, answering nothing, until the server stops."""

    def _respond(self, call: _Call) -> _Response | None:
        call.stopping.wait()
        return None


@dataclass(frozen=True)
class Respond:
    """Compute the answer from the request: ``fn`` returns a behaviour or the reply text."""

    fn: Callable[[RecordedRequest], Behaviour | str]

    def _respond(self, call: _Call) -> _Response | None:
        result = self.fn(call.request)
        return (Reply(result) if isinstance(result, str) else result)._respond(call)


Behaviour = (
    Reply | MalformedJSON | ErrorReply | RateLimited | ServerError | NotJSON | Hang | Respond
)


def echo(request: RecordedRequest) -> str:
    """Reply with the last user message: ``server.default = Respond(echo)``."""
    return request.last_user_message


class LLMServer:
    """A scripted OpenAI-compatible server on 127.0.0.1 and a free port; see the module doc."""

    def __init__(
        self,
        model: str = "test-model",
        default: Behaviour | None = None,
        structured_outputs: bool = True,
    ) -> None:
        self.model = model
        self.default: Behaviour = default if default is not None else Reply("ok")
        self.structured_outputs = structured_outputs
        self._lock = threading.Lock()
        self._script: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._errors: list[Exception] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The URL to give ``openai.OpenAI(base_url=...)``; ends in ``/v1``."""
        if self._httpd is None:
            raise RuntimeError("the LLM test server is not running")
        return f"http://{HOST}:{self._httpd.server_address[1]}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        """Queue what to do for the next chat requests, in order."""
        with self._lock:
            self._script.extend(behaviours)

    @property
    def pending(self) -> int:
        """How many scripted behaviours no request has used yet."""
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The chat completion requests received so far, oldest first."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def errors(self) -> list[Exception]:
        """Exceptions raised while answering (a behaviour that failed)."""
        with self._lock:
            return list(self._errors)

    def start(self) -> LLMServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"llm-server-{self._httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end open requests and connections, and join every thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        with self._lock:
            self._stopping.set()
            for connection in self._connections:
                _shutdown(connection)
        httpd.shutdown()
        httpd.server_close()  # joins the request threads
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        errors = self.errors
        if errors and exc_type is None:
            error = errors[0]
            raise RuntimeError(f"the LLM test server failed answering: {error!r}") from error

    # Called from the request threads.

    def _open(self, connection: socket.socket) -> None:
        with self._lock:
            if self._stopping.is_set():
                _shutdown(connection)
            else:
                self._connections.add(connection)

    def _close(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _answer(self, request: RecordedRequest, json_object: bool) -> _Response | None:
        with self._lock:
            self._requests.append(request)
        if not json_object:
            return _error(400, "The request body is not a JSON object.", "invalid_request_error")
        if request.method == "GET":
            return self._models(request.path)
        if request.path != "/v1/chat/completions":
            return _error(404, f"Unknown path {request.path}.", "invalid_request_error")
        if not isinstance(request.body.get("messages"), list):
            return _error(400, "'messages' is a required property.", "invalid_request_error")
        response_format = request.body.get("response_format")
        wants_schema = (
            isinstance(response_format, dict) and response_format.get("type") == "json_schema"
        )
        if wants_schema and not self.structured_outputs:
            return UNSUPPORTED_JSON_SCHEMA._respond(self._call(request))
        with self._lock:
            behaviour = self._script.popleft() if self._script else self.default
        try:
            return behaviour._respond(self._call(request))
        except Exception as error:
            with self._lock:
                self._errors.append(error)
            return _error(500, f"test server behaviour failed: {error!r}", "server_error")

    def _call(self, request: RecordedRequest) -> _Call:
        return _Call(request, str(request.body.get("model") or self.model), self._stopping)

    def _models(self, path: str) -> _Response:
        model = {"id": self.model, "object": "model", "created": 0, "owned_by": "celeriac-tests"}
        if path == "/v1/models":
            return _json_response(200, {"object": "list", "data": [model]})
        if path == f"/v1/models/{self.model}":
            return _json_response(200, model)
        return _error(404, f"Unknown path {path}.", "invalid_request_error")


class _HTTPServer(ThreadingHTTPServer):
    # Tracked (not daemon) request threads, so server_close() really joins them:
    # ThreadingMixIn does not keep daemon threads, and one could outlive stop().
    daemon_threads = False
    block_on_close = True
    # socketserver listens with a backlog of 5: a burst of connects beyond what the one
    # accepting thread keeps up with is dropped (the client resends its SYN after 1 s) or
    # reset. Benchmarks open up to 1,000 at once.
    request_queue_size = 1024

    def __init__(self, owner: LLMServer) -> None:
        self.owner = owner
        super().__init__((HOST, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up in DNS, which can be slow.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # _Handler catches what matters; the rest is a client that went away


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the body waits for
    # the client's delayed ACK of the headers, adding ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._open(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the client went away
        finally:
            self.server.owner._close(self.connection)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        request = RecordedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0].rstrip("/"),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body if isinstance(body, dict) else {},
            raw=raw,
        )
        response = self.server.owner._answer(request, isinstance(body, dict))
        if response is None:
            self.close_connection = True
            return
        if response.pieces is not None:
            self._stream(response)
            return
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except OSError:
            self.close_connection = True  # the client went away (e.g. it timed out)

    def _stream(self, response: _Response) -> None:
        """The pieces one by one, then the connection closed (no length is known)."""
        self.close_connection = True
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Connection", "close")
            self.end_headers()
            for number, piece in enumerate(response.pieces or ()):
                waited = number and response.piece_delay > 0
                if waited and self.server.owner._stopping.wait(response.piece_delay):
                    return
                self.wfile.write(piece)
                self.wfile.flush()
        except OSError:
            pass  # the client went away


def _json_response(
    status: int, document: Any, headers: Mapping[str, str] | None = None
) -> _Response:
    return _Response(status, json.dumps(document).encode(), headers=dict(headers or {}))


def _error(
    status: int,
    message: str,
    type: str,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> _Response:
    error = {"message": message, "type": type, "param": param, "code": code}
    return _json_response(status, {"error": error}, headers)


def _text_of(content: Any) -> str:
    """The text of a message's content: a string or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def _words(text: str) -> int:
    return len(text.split())


def _shutdown(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the client may have closed it already
        connection.shutdown(socket.SHUT_RDWR)
