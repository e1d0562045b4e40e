"""Gateways for the service's tests: the real app on uvicorn, real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from orchestrator.embedded.redis_server import RedisServer, free_port
from orchestrator.service.app import Service, create_app
from orchestrator.service.server import config
from orchestrator.settings import Settings
from tests.support.helpers import http_get, make_settings, wait_for


@dataclass
class Gateway:
    """One ``celeriac serve`` app on uvicorn, in a thread of the test process."""

    settings: Settings
    allow_anonymous: bool = True

    def start(self) -> Gateway:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        service = self.service = Service.build(self.settings, allow_anonymous=self.allow_anonymous)
        app = create_app(service)
        self.server = uvicorn.Server(config(app, "127.0.0.1", self.port, "warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: http_get(f"{self.url}/healthz")[0] == 200, what="the gateway")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def http(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture
def gateways() -> Iterator[Callable[..., Gateway]]:
    started: list[Gateway] = []

    def start(settings: Settings, *, allow_anonymous: bool = True) -> Gateway:
        gateway = Gateway(settings, allow_anonymous).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(deployment: Settings, gateways: Callable[..., Gateway]) -> Gateway:
    """A gateway on the shared deployment, open (no keys there)."""
    return gateways(deployment)


@pytest.fixture
def api(gateway: Gateway) -> Iterator[httpx.Client]:
    with gateway.http() as client:
        yield client


@pytest.fixture
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a Redis of its own with no workers: jobs are accepted and wait."""
    with RedisServer() as server:
        yield make_settings(server.url, data_dir=tmp_path_factory.mktemp("data"))


@dataclass(frozen=True)
class SSE:
    id: str
    event: str
    data: Any


def read_sse(lines: Iterator[str]) -> Iterator[SSE]:
    """The events of a Server-Sent Events stream (comments and retry: skipped)."""
    event_id, kind, data = "", "message", ""
    for line in lines:
        if not line:
            if data:
                yield SSE(event_id, kind, json.loads(data))
            event_id, kind, data = "", "message", ""
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


def plan_of(agent: str, **input: Any) -> dict[str, Any]:
    return {"steps": [{"id": "a", "agent": agent, "input": input}]}
