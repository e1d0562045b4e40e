"""The request's size and type, checked before any route reads it (pure ASGI, so that a
streamed answer is not buffered): headers over their limit are answered 431, a body over
its limit 413, a body that is not JSON 415, all in the service's error shape."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.service.errors import error_body

JSON_TYPES = ("application/json",)
MAX_HEADER_BYTES = 16 * 1024


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if sum(len(name) + len(value) for name, value in scope["headers"]) > MAX_HEADER_BYTES:
            said = f"the request's headers are larger than {MAX_HEADER_BYTES:,} bytes"
            await self._refuse(send, 431, error_body(said, "headers_too_large"))
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(send, 413, self._too_large())
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await self._refuse(send, 413, self._too_large())
                return
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if body and kind not in JSON_TYPES:
            said = (
                f"the body must be JSON (Content-Type: application/json), not {kind or 'untyped'}"
            )
            await self._refuse(send, 415, error_body(said, "unsupported_media_type"))
            return
        await self.app(scope, _replay(bytes(body), receive), send)

    def _too_large(self) -> dict[str, object]:
        return error_body(
            f"the body is larger than this server's {self.max_body_bytes:,} bytes "
            "(CELERIAC_SERVICE_MAX_BODY_BYTES)",
            "too_large",
        )

    async def _refuse(self, send: Send, status: int, body: dict[str, object]) -> None:
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read already, then whatever the client sends next (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
