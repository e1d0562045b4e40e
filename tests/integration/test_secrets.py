"""Secrets stay secret: after jobs that used a recognisable API key and Redis password, in
success and in failure, neither appears in worker logs, anything stored in Redis, results,
errors, or Flower's task list."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from orchestrator.client import Client
from orchestrator.embedded.deployment import Embedded, settings_env
from orchestrator.embedded.procs import stop_process
from orchestrator.embedded.redis_server import RedisServer, free_port
from tests.support.helpers import ROOT, TEST_AGENTS, http_get, make_settings, wait_for
from tests.support.llm_server import ErrorReply, LLMServer, Reply

API_KEY = "sk-celeriac-test-KEY-4f9c2a71"
PASSWORD = "redis-PASSWORD-8d1e77b3"
SECRETS = (API_KEY, PASSWORD)

pytestmark = pytest.mark.faults


def everything_in(client: redis.Redis) -> str:
    """Every key and value in Redis, as text."""
    parts = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        parts.append(str(key))
        if kind == "string":
            parts.append(str(client.get(key)))
        elif kind == "hash":
            parts.append(json.dumps(client.hgetall(key)))
        elif kind == "list":
            parts.append(json.dumps(client.lrange(key, 0, -1)))
        elif kind == "zset":
            parts.append(json.dumps(client.zrange(key, 0, -1)))
        elif kind == "set":
            parts.append(json.dumps(sorted(client.smembers(key))))
        elif kind == "stream":
            parts.append(str(client.xrange(key)))
    return "\n".join(parts)


def _tasks(port: int) -> str:
    """Flower's task list (its JSON), or "" while it does not answer."""
    status, body = http_get(f"http://127.0.0.1:{port}/api/tasks", auth="a:b")
    return body if status == 200 else ""


@pytest.fixture
def secured(
    llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[Embedded, str]]:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    with RedisServer(password=PASSWORD) as server:
        settings = make_settings(
            server.url,
            agent_modules=[TEST_AGENTS, "tests.support.llm_agents"],
            llm_backend="openai",
            llm_model="test-model",
            llm_attempts=1,
            llm_cache=False,
            data_dir=tmp_path,
        )
        embedded = Embedded(settings, worker_args=["--loglevel", "INFO"])
        try:
            embedded.start()
            yield embedded, server.url
        finally:
            embedded.stop()


def test_no_key_or_password_leaks_anywhere(
    secured: tuple[Embedded, str], llm_server: LLMServer
) -> None:
    embedded, url = secured
    assert PASSWORD in url  # what every process was given
    refused = ErrorReply(401, "Incorrect API key provided: sk-celeriac-test-KEY-4f9c2a71")
    llm_server.script(Reply("fine"), refused)
    plan = {
        "steps": [
            {"id": "ok", "agent": "ask", "input": {"question": "one?"}},
            {"id": "refused", "agent": "ask", "input": {"question": "two?"}, "depends_on": ["ok"]},
        ]
    }
    live = embedded.settings.model_copy(update={"redis_url": url})
    port = free_port()
    flower = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "flower", f"--port={port}", "--basic-auth=a:b"],
        cwd=ROOT,
        env={**settings_env(live), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with Client(live) as client:
            # Flower hears task events once its receiver is connected, a little after its
            # web server answers: run small jobs until it has heard one.
            def flower_listens() -> bool:
                job = client.submit(
                    plan={"steps": [{"id": "e", "agent": "echo", "input": {"text": "x"}}]}
                )
                job.wait(timeout=30)
                return job.id in _tasks(port)

            wait_for(flower_listens, what="Flower to hear task events")
            result = client.submit(plan=plan).wait(timeout=60)
        assert result.steps["ok"].status == "succeeded"
        assert result.steps["refused"].status == "failed"
        assert llm_server.chat_requests[0].headers["authorization"] == f"Bearer {API_KEY}"

        seen = {
            "the result": result.model_dump_json(),
            "Redis": everything_in(redis.Redis.from_url(url, decode_responses=True)),
            "the worker log": embedded.log_tail(0, lines=100_000),
            "Flower's tasks": wait_for(
                lambda: next((t for t in [_tasks(port)] if result.job_id in t), ""),
                what="Flower to list the job's tasks",
            ),
        }
    finally:
        stop_process(flower, timeout=10)
    assert "celeriac.run_step" in seen["the worker log"] or "refused" in seen["the worker log"]
    for where, text in seen.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret[:12]}... is in {where}"
    assert "Incorrect API key provided: ***" in (result.steps["refused"].error or "")
