"""/v1/jobs over real HTTP, on real workers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import redis

from orchestrator import names
from orchestrator.client import Client
from orchestrator.settings import Settings
from tests.orchestrator.service.conftest import Gateway, plan_of
from tests.support.helpers import wait_for
from tests.support.sample_agents import TEST_PREFIX


def finished(api: httpx.Client, job_id: str, timeout: float = 60) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = api.get(f"/v1/jobs/{job_id}").json()
        return body if body["status"] not in ("pending", "running") else None

    result: dict[str, Any] = wait_for(done, timeout=timeout, what=f"job {job_id} to end")
    return result


def test_a_goal_is_accepted_in_redis_and_answered(
    api: httpx.Client, redis_client: redis.Redis
) -> None:
    response = api.post("/v1/jobs", json={"goal": "How do I export my notes?"})
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    # In Redis before the 202 went out: read at once, no waiting.
    assert redis_client.hget(names.job_key(job_id), "status") is not None
    assert response.headers["location"] == f"/v1/jobs/{job_id}"
    assert response.json()["links"]["events"] == f"/v1/jobs/{job_id}/events"
    result = finished(api, job_id)
    assert result["status"] == "succeeded"
    assert "export-notes" in result["answer"]["citations"]
    assert result["steps"]["answer"]["scores"][0]["name"] == "answer_relevance"


def test_an_idempotency_key_gives_the_same_job_twice(
    api: httpx.Client, unique: Callable[[str], str]
) -> None:
    key = unique("idem")
    body = {"plan": plan_of("echo", text="once")}
    first = api.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})
    second = api.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"]
    assert second.headers["idempotent-replayed"] == "true"
    other = api.post(
        "/v1/jobs", json={"plan": plan_of("echo", text="twice")}, headers={"Idempotency-Key": key}
    )
    assert other.status_code == 422 and "another body" in other.json()["error"]["message"]
    assert api.post("/v1/jobs", json=body).json()["job_id"] != first.json()["job_id"]


def test_jobs_are_listed_newest_first_a_page_at_a_time(
    bare: Settings, gateways: Callable[..., Gateway]
) -> None:
    gateway = gateways(bare)
    with gateway.http() as api:
        ids = [
            api.post("/v1/jobs", json={"plan": plan_of("echo", text=str(n))}).json()["job_id"]
            for n in range(3)
        ]
        first = api.get("/v1/jobs", params={"limit": 2}).json()
        assert [job["job_id"] for job in first["jobs"]] == ids[::-1][:2]
        assert first["jobs"][0]["status"] in ("pending", "running")
        rest = api.get("/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert [job["job_id"] for job in rest["jobs"]] == [ids[0]]
        assert rest["next_cursor"] is None


def test_a_job_is_cancelled(
    api: httpx.Client,
    unique: Callable[[str], str],
    redis_client: redis.Redis,
) -> None:
    gate = unique("cancel")
    job_id = api.post("/v1/jobs", json={"plan": plan_of("gate", gate=gate)}).json()["job_id"]
    wait_for(lambda: redis_client.llen(f"{TEST_PREFIX}:started:{gate}"), what="the gate step")
    response = api.post(f"/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200 and response.json() == {
        "job_id": job_id,
        "status": "cancelled",
    }
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"


def test_the_deployment_is_described(api: httpx.Client, deployment: Settings) -> None:
    agents = {card["name"]: card for card in api.get("/v1/agents").json()["agents"]}
    assert agents["retrieval"]["workers"] >= 1 and "description" in agents["retrieval"]
    assert "demo" in api.get("/v1/collections").json()["collections"]
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200, ready.text
    schema = api.get("/openapi.json").json()
    assert {"/v1/jobs", "/v1/jobs/{job_id}/events", "/v1/chat/completions"} <= set(schema["paths"])
    assert api.get("/docs").status_code == 200


def test_readyz_says_what_is_missing(bare: Settings, gateways: Callable[..., Gateway]) -> None:
    with gateways(bare).http() as api:
        ready = api.get("/readyz")
    assert ready.status_code == 503
    assert "no live worker serving 'retrieval'" in ready.json()["missing"]


def test_the_sdk_sees_a_job_submitted_over_http(api: httpx.Client, client: Client) -> None:
    started = time.monotonic()
    job_id = api.post("/v1/jobs", json={"plan": plan_of("echo", text="hi")}).json()["job_id"]
    assert client.get(job_id).wait(timeout=30).answer == {"text": "hi"}
    assert time.monotonic() - started < 30
