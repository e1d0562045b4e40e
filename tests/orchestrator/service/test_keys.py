"""Keys are tenants: hashes only, Bearer auth, isolation, limits, and the bind check."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import redis

from orchestrator.service.keys import Keys
from orchestrator.settings import Settings
from tests.orchestrator.service.conftest import Gateway, plan_of
from tests.support.helpers import ROOT, http_get, wait_for


def celeriac(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CELERIAC_REDIS_URL": settings.redis_url or ""}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def every_value(r: redis.Redis) -> str:
    """Every key and value in Redis, as text."""
    seen = []
    for key in r.scan_iter(count=1000):
        kind = r.type(key)
        readers: dict[str, Callable[[str], Any]] = {
            "string": r.get,
            "hash": r.hgetall,
            "list": lambda k: r.lrange(k, 0, -1),
            "zset": lambda k: r.zrange(k, 0, -1),
            "set": r.smembers,
            "stream": r.xrange,
        }
        seen.append(f"{key} {readers.get(str(kind), str)(key)}")
    return "\n".join(seen)


def test_keys_are_made_listed_and_revoked_and_only_their_hash_is_kept(
    bare: Settings, gateways: Callable[..., Gateway]
) -> None:
    made = celeriac(bare, "keys", "create", "helpdesk", "--collection", "demo")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("ck_") and "not shown again" in made.stderr
    listed = celeriac(bare, "keys", "list", "--json")
    assert '"name": "helpdesk"' in listed.stdout and secret not in listed.stdout

    gateway = gateways(bare)
    with gateway.http(secret) as api:
        job_id = api.post("/v1/jobs", json={"plan": plan_of("echo", text="x")}).json()["job_id"]
        assert api.get(f"/v1/jobs/{job_id}").status_code == 200
    r = redis.Redis.from_url(bare.redis_url or "", decode_responses=True)
    assert secret not in every_value(r)  # nor in any job's state
    r.close()

    assert celeriac(bare, "keys", "revoke", "helpdesk").returncode == 0
    with gateway.http(secret) as api:
        refused = api.get(f"/v1/jobs/{job_id}")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert celeriac(bare, "keys", "revoke", "helpdesk").returncode == 2


def test_a_key_sees_only_its_own_jobs_and_collections(
    bare: Settings, gateways: Callable[..., Gateway]
) -> None:
    r = redis.Redis.from_url(bare.redis_url or "", decode_responses=True)
    keys = Keys(r)
    ada, bob = keys.create("ada").secret, keys.create("bob", collections=["demo"]).secret
    gateway = gateways(bare)
    with gateway.http() as nobody, gateway.http("ck_wrong") as wrong:
        assert nobody.get("/v1/jobs").status_code == 401
        assert wrong.get("/v1/jobs").status_code == 401
        assert nobody.get("/healthz").status_code == 200  # health needs no key
    with gateway.http(ada) as a, gateway.http(bob) as b:
        job_id = a.post("/v1/jobs", json={"plan": plan_of("echo", text="a's")}).json()["job_id"]
        for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/events"):
            assert b.get(path).status_code == 404
        assert b.post(f"/v1/jobs/{job_id}/cancel").status_code == 404
        assert b.get("/v1/jobs").json()["jobs"] == []
        assert [j["job_id"] for j in a.get("/v1/jobs").json()["jobs"]] == [job_id]
        conversation = a.post("/v1/conversations", json={}).json()["conversation_id"]
        assert b.get(f"/v1/conversations/{conversation}").status_code == 404
        plan = {
            "steps": [{"id": "s", "agent": "retrieval", "input": {"query": "x", "collection": "x"}}]
        }
        refused = b.post("/v1/jobs", json={"plan": plan})
        assert refused.status_code == 400 and "'x'" in refused.json()["error"]["message"]
        assert b.get("/v1/collections").json() == {"collections": ["demo"]}
    r.close()


def test_a_key_over_its_rate_gets_429_with_retry_after(
    bare: Settings, gateways: Callable[..., Gateway]
) -> None:
    r = redis.Redis.from_url(bare.redis_url or "", decode_responses=True)
    secret = Keys(r).create("burst", requests_per_minute=3).secret
    with gateways(bare).http(secret) as api:
        assert [api.get("/v1/jobs").status_code for _ in range(3)] == [200] * 3
        limited = api.get("/v1/jobs")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    r.close()


def test_a_key_over_its_jobs_in_flight_gets_429_until_one_ends(
    bare: Settings, gateways: Callable[..., Gateway]
) -> None:
    r = redis.Redis.from_url(bare.redis_url or "", decode_responses=True)
    secret = Keys(r).create("one-at-a-time", concurrent_jobs=1).secret
    with gateways(bare).http(secret) as api:
        body = {"plan": plan_of("echo", text="x")}
        first = api.post("/v1/jobs", json=body).json()["job_id"]  # no worker: it waits
        limited = api.post("/v1/jobs", json=body)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
        assert api.post(f"/v1/jobs/{first}/cancel").json()["status"] == "cancelled"
        assert api.post("/v1/jobs", json=body).status_code == 202
    r.close()


def test_a_public_address_without_keys_is_refused_unless_insecure(
    bare: Settings, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    env = {**os.environ, "CELERIAC_REDIS_URL": bare.redis_url or ""}
    refused = subprocess.run(
        [sys.executable, "-m", "orchestrator", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "refusing to serve 0.0.0.0 without keys" in refused.stderr

    from orchestrator.embedded.redis_server import free_port

    port = free_port()
    spawn(bare, "serve", "--host", "0.0.0.0", "--port", str(port), "--insecure")
    wait_for(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200, what="the gateway")


@pytest.mark.parametrize("name", ["", "has space", "x" * 65])
def test_a_bad_key_name_is_refused(bare: Settings, name: str) -> None:
    made = celeriac(bare, "keys", "create", name)
    assert made.returncode == 2 and "a key's name is" in made.stderr
