"""docker-compose.yml, proved without Docker: every service's command, with that service's
environment, started as a local process against a Redis started by the redis service's own
command; together they run a job, Redis asks for its password and Flower for its login."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from orchestrator.client import Client
from orchestrator.embedded.procs import stop_process
from orchestrator.embedded.redis_server import find_redis_server, free_port
from orchestrator.settings import Settings
from tests.support.helpers import ROOT, http_get, wait_for

COMPOSE = ROOT / "docker-compose.yml"
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::(?P<op>[?-])(?P<arg>[^}]*))?\}")
DOTENV = {
    "REDIS_PASSWORD": "compose-test-password",
    "CELERIAC_FLOWER_BASIC_AUTH": "ada:lovelace",
    "OPENAI_API_KEY": "",
}


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} substitution."""
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        if env.get(name):
            return env[name]
        if op == "?":
            raise AssertionError(f"compose needs {name}: {arg}")
        return arg if op == "-" else ""

    return VARIABLE.sub(substitute, value)


def services() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(COMPOSE.read_text())  # merge keys (<<) resolved by the loader
    return dict(document["services"])


def test_env_example_sets_every_variable_the_compose_file_requires() -> None:
    required = {
        m.group("name") for m in VARIABLE.finditer(COMPOSE.read_text()) if m.group("op") == "?"
    }
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert required == {"REDIS_PASSWORD", "CELERIAC_FLOWER_BASIC_AUTH"}
    assert required <= {name for name, value in example.items() if value}


@pytest.fixture
def compose(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Redis from its service's command, then every other service as a local process."""
    port = free_port()
    started: list[subprocess.Popen[bytes]] = []
    spec = services()
    local = redis.Redis(port=port, password=DOTENV["REDIS_PASSWORD"])
    try:
        command = interpolate(spec["redis"]["command"], DOTENV)
        assert command[0] == "redis-server"
        started.append(
            subprocess.Popen(
                [
                    find_redis_server(),
                    *command[1:],
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(tmp_path),
                    "--daemonize",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
            )
        )
        wait_for(lambda: _pings(local), what="the compose Redis")
        ports = {name: free_port() for name in spec}  # each service's published port
        base_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("CELERIAC_", "OPENAI_"))
        }
        urls = set()
        metrics: dict[str, int] = {}
        for name, service in spec.items():
            if service.get("image") != "celeriac:latest":
                continue  # Redis (started above), Prometheus (monitoring, not under test)
            env = {
                key: str(value)
                for key, value in interpolate(service["environment"], DOTENV).items()
            }
            env["CELERIAC_REDIS_URL"] = env["CELERIAC_REDIS_URL"].replace(
                "@redis:6379", f"@127.0.0.1:{port}"
            )
            env["CELERIAC_DATA_DIR"] = str(tmp_path / "data")  # the celeriac-data volume
            if env.get("CELERIAC_METRICS_PORT", "0") != "0":  # one port each, as in containers
                metrics[name] = free_port()
                env["CELERIAC_METRICS_PORT"] = str(metrics[name])
            urls.add(env["CELERIAC_REDIS_URL"])
            args = interpolate(service["command"], DOTENV)
            if "--port" in args:  # Flower's and the gateway's published ports, free here
                args[args.index("--port") + 1] = str(ports[name])
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "orchestrator", *args],
                    cwd=ROOT,
                    env={**base_env, **{k: v for k, v in env.items() if v}},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        (url,) = urls  # every service talks to the same Redis
        yield {
            "url": url,
            "port": port,
            "flower": f"http://127.0.0.1:{ports['flower']}",
            "gateway": f"http://127.0.0.1:{ports['gateway']}",
            "data": tmp_path / "data",
            "metrics": metrics,
        }
    finally:
        for process in reversed(started):
            stop_process(process, timeout=15)
        local.close()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _status(url: str, auth: str | None = None) -> int:
    return http_get(url, auth)[0]


def test_the_compose_services_run_a_job_together(compose: dict[str, Any]) -> None:
    settings = Settings(redis_url=compose["url"], data_dir=compose["data"], llm_backend="offline")
    with Client(settings) as client:

        def serving() -> set[str]:
            """The agent types live workers serve, and "orchestrator" if an orchestrator-only
            worker is live (the services start in any order)."""
            workers = client.live_workers().values()
            served = {a for info in workers for a in info.get("agents", [])}
            alone = any(info["orchestrator"] and not info["agents"] for info in workers)
            return served | ({"orchestrator"} if alone else set())

        wait_for(
            lambda: {"orchestrator", "retrieval", "generation", "translation"} <= serving(),
            timeout=60,
            what="the orchestrator's and the agent services' workers",
        )
        workers = client.live_workers().values()
        assert all(len(info["agents"]) <= 1 for info in workers)  # one type per service
        result = client.submit(goal="How do I turn on two-factor authentication?").wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.steps["search"].worker != result.steps["answer"].worker  # two services

    # The workers' health check, as compose runs it in each container.
    healthcheck = services()["retrieval"]["healthcheck"]["test"]
    assert healthcheck[:2] == ["CMD", "celeriac"]
    env = {**os.environ, "CELERIAC_REDIS_URL": compose["url"]}
    checked = subprocess.run(
        [sys.executable, "-m", "orchestrator", *healthcheck[2:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    unhealthy = subprocess.run(
        [sys.executable, "-m", "orchestrator", "health", "--agent", "nobody"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unhealthy.returncode == 1 and "no live worker serving 'nobody'" in unhealthy.stderr

    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=compose["port"]).ping()  # Redis wants its password
    assert redis.Redis(port=compose["port"], password=DOTENV["REDIS_PASSWORD"]).config_get(
        "maxmemory-policy"
    ) == {"maxmemory-policy": "noeviction"}

    assert set(compose["metrics"]) == {"orchestrator", "retrieval", "generation", "translation"}
    retrieval_metrics = f"http://127.0.0.1:{compose['metrics']['retrieval']}/metrics"
    assert _status(retrieval_metrics) == 200

    flower = compose["flower"]
    wait_for(lambda: _status(flower) == 401, what="Flower to ask for its login")
    assert _status(f"{flower}/healthcheck") == 200  # its health check needs no login
    wait_for(
        lambda: _status(f"{flower}/metrics", DOTENV["CELERIAC_FLOWER_BASIC_AUTH"]) == 200,
        what="Flower's metrics with the login",
    )

    # The gateway answers over the same Redis, ready once every service is heard, and its
    # health check is the one compose runs in its container.
    gateway = compose["gateway"]
    wait_for(lambda: _status(f"{gateway}/readyz") == 200, what="the gateway to be ready")
    assert "/healthz" in " ".join(services()["gateway"]["healthcheck"]["test"])
    assert _status(f"{gateway}/healthz") == 200
    status, body = http_get(f"{gateway}/v1/collections")
    assert status == 200 and "demo" in body


def test_the_rabbitmq_profile_runs_a_broker_behind_a_login() -> None:
    spec = services()
    rabbit = spec["rabbitmq"]
    assert rabbit["profiles"] == ["rabbitmq"]
    assert rabbit["environment"]["RABBITMQ_DEFAULT_USER"]
    assert "RABBITMQ_PASSWORD" in rabbit["environment"]["RABBITMQ_DEFAULT_PASS"]
    assert "rabbitmq-data:/var/lib/rabbitmq" in rabbit["volumes"]  # queues survive a restart
    # Every celeriac service takes its broker from .env (empty: Redis, as before).
    for name, service in spec.items():
        if service.get("image") == "celeriac:latest":
            assert service["environment"]["CELERIAC_BROKER_URL"] == "${CELERIAC_BROKER_URL:-}", name
