"""Running the app: uvicorn on one address, over the deployment's Redis or, with no
CELERIAC_REDIS_URL, a private Redis and workers of its own (as ``celeriac run`` starts)."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

from orchestrator.embedded.deployment import Embedded
from orchestrator.errors import UserError
from orchestrator.service.app import create_app
from orchestrator.service.deps import Service
from orchestrator.service.keys import Keys
from orchestrator.settings import Settings
from orchestrator.store.connection import connect, redis_errors


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# A request's line and headers together; past it, uvicorn answers 400 and hangs up.
MAX_HEAD_BYTES = 32 * 1024


def config(app: ASGIApp, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http="h11",  # whose limit on a request's head holds whatever else is installed
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        timeout_graceful_shutdown=3,
        # Longer than a load balancer's idle timeout (60 s is common), so that the server
        # never closes a kept-alive connection just as a request is sent on it.
        timeout_keep_alive=75,
        server_header=False,
    )


def check_bind(settings: Settings, host: str, insecure: bool) -> bool:
    """Whether requests without a key are served (loopback, or --insecure, and no keys);
    ``UserError`` for a public address with no keys and no --insecure."""
    if is_loopback(host) or insecure:
        return True
    has_keys = False
    if settings.redis_url:
        client = connect(settings.redis_url)
        try:
            with redis_errors(settings.redis_url):
                has_keys = Keys(client).in_use()
        finally:
            client.close()
    if not has_keys:
        raise UserError(
            f"refusing to serve {host} without keys: anyone who reaches it could run jobs. "
            "Create one with `celeriac keys create NAME` (CELERIAC_REDIS_URL set), serve on "
            "127.0.0.1, or pass --insecure (e.g. behind a proxy that authenticates)"
        )
    return False


@contextlib.contextmanager
def deployment(settings: Settings) -> Iterator[Settings]:
    """The settings as they are with a Redis URL; else a private Redis and workers."""
    if settings.redis_url:
        yield settings
        return
    with Embedded(settings) as live:
        yield live


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    insecure: bool,
    log_level: str,
    started: Callable[[str], object],
) -> None:
    anonymous = check_bind(settings, host, insecure)
    with deployment(settings) as live:
        service = Service.build(live, allow_anonymous=anonymous)
        server = uvicorn.Server(config(create_app(service), host, port, log_level))
        started(f"serving on http://{host}:{port} (API under /v1, docs at /docs)")
        server.run()
