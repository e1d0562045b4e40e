"""Every failure as a clear JSON answer, never a 500 for the caller's mistake.

The body is OpenAI's error shape, so the ``openai`` SDK reads it too::

    {"error": {"type": "invalid_request", "message": "...", "field": "body.goal"}}
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agents.errors import CeleriacError, RegistryError
from orchestrator.errors import (
    JobNotFound,
    NotAwaitingApproval,
    NotReady,
    RedisUnavailable,
    UserError,
)
from orchestrator.service.tenants import Limited

log = logging.getLogger("celeriac.service")


class ServiceError(Exception):
    """An answer other than success, with its status and message."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request",
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.field = field
        self.headers = headers or {}


def not_found(what: str) -> ServiceError:
    return ServiceError(404, f"no {what}", type="not_found")


def error_body(message: str, type: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def _answer(error: ServiceError) -> JSONResponse:
    return JSONResponse(
        error_body(error.message, error.type, error.field),
        status_code=error.status,
        headers=error.headers,
    )


def field_name(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def validation_error(exc: RequestValidationError) -> ServiceError:
    problems = list(exc.errors())
    first = problems[0] if problems else {"loc": ("body",), "msg": "invalid", "type": ""}
    if first.get("type") == "json_invalid":
        context = first.get("ctx")
        where = context.get("error", "") if isinstance(context, dict) else ""
        return ServiceError(400, f"the body is not valid JSON: {where}".rstrip(": "))
    said = "; ".join(f"{field_name(p['loc'])}: {p['msg']}" for p in problems[:5])
    return ServiceError(422, said, field=field_name(first["loc"]))


def celeriac_error(exc: CeleriacError) -> ServiceError:
    if isinstance(exc, JobNotFound):
        return not_found(f"job {exc.job_id!r}")
    if isinstance(exc, NotAwaitingApproval):  # someone answered first, or nothing waits
        return ServiceError(409, str(exc), type="conflict")
    if isinstance(exc, UserError | RegistryError):
        return ServiceError(400, str(exc))
    if isinstance(exc, NotReady):
        return ServiceError(503, str(exc), type="not_ready")
    if isinstance(exc, RedisUnavailable):
        log.error("%s", exc)
        said = "the deployment's Redis cannot be reached: try again shortly"
        return ServiceError(503, said, type="unavailable", headers={"Retry-After": "1"})
    log.error("request failed: %s", exc)
    return ServiceError(500, str(exc), type="internal")


def install(app: FastAPI) -> None:
    """Answer every error in one shape."""

    async def service(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return _answer(exc)

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _answer(validation_error(exc))

    async def http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path} (see /docs)"
        return _answer(
            ServiceError(exc.status_code, message, type=kind, headers=dict(exc.headers or {}))
        )

    async def celeriac(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CeleriacError)
        return _answer(celeriac_error(exc))

    async def limited(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Limited)
        return _answer(
            ServiceError(
                429,
                str(exc),
                type="rate_limited",
                headers={"Retry-After": str(exc.retry_after)},
            )
        )

    async def unreachable(request: Request, exc: Exception) -> JSONResponse:
        log.error("Redis cannot be reached: %s", exc)
        said = "the deployment's Redis cannot be reached: try again shortly"
        return _answer(ServiceError(503, said, type="unavailable", headers={"Retry-After": "1"}))

    app.add_exception_handler(ServiceError, service)
    app.add_exception_handler(redis.ConnectionError, unreachable)
    app.add_exception_handler(redis.TimeoutError, unreachable)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(CeleriacError, celeriac)
    app.add_exception_handler(Limited, limited)


class Unexpected:
    """A bug of ours, not the caller's: logged with its stack and answered 500 in the same
    shape (where nothing was sent yet), and the connection goes on serving."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            log.exception("%s %s failed", scope.get("method", ""), scope.get("path", ""))
            if scope["type"] != "http" or started:
                return
            said = error_body("celeriac failed to answer (see its log)", "internal")
            await JSONResponse(said, status_code=500)(scope, receive, send)
