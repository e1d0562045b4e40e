"""Fixtures: a private Redis per session, real worker processes, hermetic environment."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from orchestrator.client import Client
from orchestrator.embedded.deployment import Embedded, settings_env
from orchestrator.embedded.procs import stop_process
from orchestrator.embedded.redis_server import RedisServer
from orchestrator.settings import Settings
from orchestrator.store.connection import connect
from tests.support.cli import environment
from tests.support.helpers import (
    ROOT,
    WITH_TEST_MODEL,
    make_settings,
)
from tests.support.llm_server import LLMServer
from tests.support.rabbitmq import RabbitNode, needs_rabbitmq
from tests.support.redis_cluster import RedisClusterNodes

_MEASURED: list[str] = []


@pytest.fixture
def measured() -> Callable[[str], None]:
    """Report a figure a test measured (a timing too machine-dependent to assert tightly):
    ``make test`` and ``make faults`` print them all at the end of the run."""
    return _MEASURED.append


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _MEASURED:
        terminalreporter.section("measured")
        for line in _MEASURED:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CELERIAC_* or OpenAI settings leak in; any real LLM call would fail."""
    for name in list(os.environ):
        if name.startswith(("CELERIAC_", "OPENAI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: no LLM


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitNode]:
    """A private RabbitMQ node, started once for the session when a test first needs it."""
    with RabbitNode() as node:
        yield node


@pytest.fixture(params=["redis", pytest.param("rabbitmq", marks=needs_rabbitmq)])
def broker(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Each broker in turn, as settings for ``isolated``: the deployment's Redis, or a
    virtual host of its own on the session's RabbitMQ node (``broker_url``)."""
    if request.param == "redis":
        yield {}
        return
    node: RabbitNode = request.getfixturevalue("rabbitmq")
    url = node.vhost()
    yield {"broker_url": url}
    node.drop(url)


@pytest.fixture(scope="session")
def deployment(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Shared worker processes serving every test agent and the orchestrator."""
    data_dir = tmp_path_factory.mktemp("data")
    settings = make_settings(redis_server.url, embedded_workers=2, data_dir=data_dir)
    with Embedded(settings) as live:
        yield live


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterNodes]:
    """A private Redis Cluster (three primaries, three replicas), started once."""
    with RedisClusterNodes() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def cluster_deployment(
    redis_cluster: RedisClusterNodes, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Shared worker processes on the cluster store, with a plain Redis of their own as
    the broker (Celery's broker cannot be the cluster)."""
    with RedisServer() as broker:
        settings = make_settings(
            redis_cluster.url,
            broker_url=broker.url,
            embedded_workers=2,
            data_dir=tmp_path_factory.mktemp("data"),
        )
        with Embedded(settings) as live:
            yield live


@pytest.fixture
def client(deployment: Settings) -> Iterator[Client]:
    with Client(deployment) as c:
        yield c


@pytest.fixture
def redis_client(deployment: Settings) -> Iterator[redis.Redis]:
    assert deployment.redis_url
    r = connect(deployment.redis_url)  # a cluster client for a cluster store
    yield r
    r.close()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names no other test uses, for gates and barriers."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Settings]]:
    """A deployment of one's own: a fresh Redis and workers started on request.

    ``start(workers=1, worker_args=[...], **settings)`` returns live settings.
    """
    stack: list[Any] = []

    def start(workers: int = 1, worker_args: list[str] | None = None, **overrides: Any) -> Settings:
        server = RedisServer()
        server.start()
        stack.append(server)
        overrides.setdefault("data_dir", tmp_path_factory.mktemp("data"))
        embedded = Embedded(
            make_settings(server.url, embedded_workers=workers, **overrides),
            worker_args=worker_args,
        )
        stack.append(embedded)
        return embedded.start()

    yield start
    for item in reversed(stack):
        item.stop()


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``celeriac ARGS...`` (or ``python -m MODULE ARGS...``) with some settings;
    stopped at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(
        settings: Settings, *args: str, module: str = "orchestrator", **env: str
    ) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env={**os.environ, **settings_env(settings), **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process(process, timeout=10)


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    """A started OpenAI-compatible test server (tests/support/llm_server.py), stopped
    after the test."""
    with LLMServer() as server:
        yield server


# Settings of workers that use the test server's model (OPENAI_BASE_URL set to it).


@pytest.fixture
def planning(
    isolated: Callable[..., Settings],
    llm_server: LLMServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Settings:
    """A deployment whose orchestrator plans with the test server's model."""
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    return isolated(workers=1, **WITH_TEST_MODEL, data_dir=tmp_path)


@pytest.fixture
def live_env(deployment: Settings) -> dict[str, str]:
    """Environment for commands against the shared test deployment."""
    return environment(**settings_env(deployment))
