"""The ASGI app of ``celeriac serve``: stateless over the deployment's Redis.

Every job, event, answer piece and conversation turn is in Redis, so any number of
instances serve the same clients, and one that is killed loses nothing.

>>> app = create_app(Service.build(settings, allow_anonymous=True))
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from orchestrator.service import (
    approvals,
    chat,
    conversations,
    errors,
    health,
    jobs,
    page,
    streams,
)
from orchestrator.service.deps import Service
from orchestrator.service.limits import RequestLimits

__all__ = ["Service", "create_app"]


def create_app(service: Service) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await service.aclose()

    app = FastAPI(
        title="celeriac",
        summary="Goals and plans run by agents on Celery workers; streamed answers.",
        version="1",
        lifespan=lifespan,
    )
    app.state.service = service
    errors.install(app)
    for module in (jobs, approvals, streams, conversations, chat, health, page):
        app.include_router(module.router)
    app.add_middleware(RequestLimits, max_body_bytes=service.settings.service_max_body_bytes)
    app.add_middleware(errors.Unexpected)
    return app
