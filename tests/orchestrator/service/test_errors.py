"""Bad input gets a clear answer, in one shape, and never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from orchestrator.embedded.redis_server import RedisServer
from orchestrator.settings import Settings
from tests.orchestrator.service.conftest import Gateway, plan_of
from tests.support.helpers import make_settings

JSON = {"Content-Type": "application/json"}
PLAN = plan_of("echo", text="x")
CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("post", "/v1/jobs", {"content": "{bad", "headers": JSON}, 400, "not valid JSON"),
    ("post", "/v1/jobs", {"content": "[]", "headers": JSON}, 422, "body"),
    ("post", "/v1/jobs", {"json": {}}, 422, "give a goal or a plan"),
    ("post", "/v1/jobs", {"json": {"goal": 7}}, 422, "body.goal"),
    ("post", "/v1/jobs", {"json": {"goal": "x", "colour": "red"}}, 422, "body.colour"),
    ("post", "/v1/jobs", {"json": {"goal": "How?", "threshold": 2}}, 422, "body.threshold"),
    ("post", "/v1/jobs", {"json": {"goal": "How?", "budget": {"tokens": 0}}}, 422, "tokens"),
    ("post", "/v1/jobs", {"json": {"plan": {"steps": []}}}, 400, "invalid plan"),
    (
        "post",
        "/v1/jobs",
        {"json": {"plan": {"steps": [{"id": "a", "agent": "nope"}]}}},
        400,
        "nope",
    ),
    ("post", "/v1/jobs", {"json": {"goal": "Hi?", "collection": "nope"}}, 400, "'nope'"),
    ("post", "/v1/jobs", {"json": {"goal": "Hi?", "collection": "../etc"}}, 400, "collection"),
    (
        "post",
        "/v1/jobs",
        {"content": "goal", "headers": {"Content-Type": "text/plain"}},
        415,
        "JSON",
    ),
    ("post", "/v1/jobs", {"content": b"\x00\xff", "headers": JSON}, 400, "JSON"),
    ("get", "/v1/jobs/0123456789abcdef", {}, 404, "no job"),
    ("get", "/v1/jobs/" + "x" * 500, {}, 404, "no job"),
    ("post", "/v1/jobs/0123/cancel", {}, 404, "no job"),
    ("get", "/v1/jobs?limit=1000", {}, 422, "query.limit"),
    ("get", "/v1/jobs?cursor=-1", {}, 422, "query.cursor"),
    ("get", "/v1/nowhere", {}, 404, "no route GET /v1/nowhere"),
    ("delete", "/v1/jobs", {}, 405, "Method Not Allowed"),
    ("post", "/v1/conversations/nope/messages", {"json": {"message": "hi"}}, 404, "conversation"),
    ("post", "/v1/chat/completions", {"json": {"model": "demo", "messages": []}}, 422, "messages"),
    (
        "post",
        "/v1/chat/completions",
        {"json": {"model": "nope", "messages": [{"role": "user", "content": "Hi?"}]}},
        400,
        "'nope'",
    ),
    (
        "post",
        "/v1/chat/completions",
        {"json": {"model": "demo", "messages": [{"role": "assistant", "content": "Hi"}]}},
        400,
        "last message",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "request_args", "status", "said"),
    CASES,
    ids=[f"{c[3]}-{c[0]}-{c[1][:30]}-{i}" for i, c in enumerate(CASES)],
)
def test_bad_input_is_answered_clearly(
    api: httpx.Client,
    method: str,
    path: str,
    request_args: dict[str, Any],
    status: int,
    said: str,
) -> None:
    response = getattr(api, method)(path, **request_args)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert said in error["message"] or said == error.get("field"), error


def test_a_body_over_the_limit_is_413_declared_or_not(
    tmp_path_factory: pytest.TempPathFactory,
    bare: Settings,
    gateways: Callable[..., Gateway],
) -> None:
    small = bare.model_copy(update={"service_max_body_bytes": 1000})
    with gateways(small).http() as api:
        declared = api.post("/v1/jobs", content=b"x" * 5000, headers=JSON)
        chunked = api.post("/v1/jobs", content=iter([b"{" + b" " * 600, b" " * 600]), headers=JSON)
        assert api.get("/healthz").status_code == 200
    for response in (declared, chunked):
        assert response.status_code == 413
        assert "1,000 bytes" in response.json()["error"]["message"]


def test_huge_headers_are_refused_and_the_server_goes_on(api: httpx.Client) -> None:
    response = api.get("/v1/jobs", headers={"X-Padding": "a" * 40_000})
    assert response.status_code == 431
    assert "headers are larger" in response.json()["error"]["message"]
    assert api.get("/v1/jobs").status_code == 200


def test_a_bug_is_a_500_in_the_same_shape_and_the_server_goes_on(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(gateway.service.client, "cards", broken)
    with gateway.http() as api:
        response = api.get("/v1/agents")
        assert response.status_code == 500
        assert response.json()["error"] == {
            "type": "internal",
            "message": "celeriac failed to answer (see its log)",
        }
        assert api.get("/v1/collections").status_code == 200


def test_redis_out_of_reach_is_503_with_retry_after(
    tmp_path_factory: pytest.TempPathFactory, gateways: Callable[..., Gateway]
) -> None:
    server = RedisServer()
    server.start()
    gateway = gateways(make_settings(server.url, data_dir=tmp_path_factory.mktemp("data")))
    server.stop()
    with gateway.http() as api:
        for response in (api.get("/v1/jobs"), api.post("/v1/jobs", json={"plan": PLAN})):
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "1"
            assert "Redis cannot be reached" in response.json()["error"]["message"]
        assert api.get("/readyz").status_code == 503
        assert api.get("/healthz").status_code == 200
