"""What the tests of workers share: a private Redis, and a runtime on it whose broker is a
RecordingDispatcher, run by an InlineWorker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.embedded.redis_server import RedisServer
from orchestrator.runtime import Runtime
from orchestrator.transport.dispatch import RecordingDispatcher
from tests.support.helpers import make_settings
from tests.support.inline_agents import REGISTRY
from workers.inline import InlineWorker


class Events:
    """An event dispatcher's stand-in that keeps what it was asked to send."""

    enabled = True

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, type_: str, **fields: Any) -> None:
        self.sent.append({"type": type_, **fields})


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def inline(own_redis: RedisServer) -> Iterator[tuple[Runtime, InlineWorker]]:
    dispatcher = RecordingDispatcher()
    runtime = Runtime.build(make_settings(own_redis.url), REGISTRY, dispatcher=dispatcher)
    runtime.redis.flushdb()
    worker = InlineWorker(runtime, REGISTRY, dispatcher)
    yield runtime, worker
    worker.close()
    runtime.close()
