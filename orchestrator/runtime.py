"""Everything that talks to one deployment's Redis, built once from settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import redis
from celery import Celery

from agents.base import Agent
from orchestrator.engine import Engine
from orchestrator.errors import ConfigError
from orchestrator.settings import Settings
from orchestrator.store.connection import connect
from orchestrator.store.jobs import Store
from orchestrator.sweeper import Sweeper
from orchestrator.transport.celery_app import CeleryDispatcher, make_app
from orchestrator.transport.dispatch import Dispatcher


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    store: Store
    app: Celery
    engine: Engine
    sweeper: Sweeper

    @classmethod
    def build(
        cls,
        settings: Settings,
        agents: Mapping[str, type[Agent]],
        *,
        connections: int = 50,
        retries: int = 3,
        dispatcher: Dispatcher | None = None,
    ) -> Runtime:
        """``dispatcher`` publishes the engine's messages: Celery's, unless a test gives
        a ``RecordingDispatcher`` (``workers.inline`` then runs what it records)."""
        if not settings.redis_url:
            raise ConfigError(
                "CELERIAC_REDIS_URL is not set: point it at the deployment's Redis "
                "(e.g. redis://localhost:6379/0), or use `celeriac run`, which starts its own"
            )
        client = connect(settings.redis_url, max_connections=connections, retries=retries)
        store = Store(
            client,
            grace_seconds=settings.step_lease_seconds,
            result_ttl=settings.result_ttl_seconds,
            redeliver_seconds=settings.redeliver_seconds,
        )
        app = make_app(settings.broker)
        dispatcher = dispatcher or CeleryDispatcher(app, settings.steps_per_message)
        engine = Engine(store, dispatcher, agents, settings)
        sweeper = Sweeper(store, dispatcher, settings, engine.deliver)
        return cls(settings, client, store, app, engine, sweeper)

    @property
    def url(self) -> str:
        return self.settings.redis_url or ""

    def close(self) -> None:
        self.app.close()
        self.redis.close()
