"""Steps that call a chat model, on real workers, against the OpenAI-compatible test server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.client import Client
from orchestrator.models import Budget
from orchestrator.settings import Settings
from tests.support.helpers import TEST_AGENTS
from tests.support.llm_server import (
    Hang,
    LLMServer,
    MalformedJSON,
    RateLimited,
    Reply,
    ServerError,
    Usage,
)


@pytest.fixture
def llm_deployment(
    isolated: Callable[..., Settings], llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    return isolated(
        workers=1,
        agent_modules=[TEST_AGENTS, "tests.support.llm_agents"],
        llm_backend="auto",  # the openai backend, since OPENAI_BASE_URL is set
        llm_model="test-model",
        llm_attempts=2,
        llm_cache=False,  # each test scripts every call
        llm_prices={"test-model": (1_000_000, 2_000_000)},  # $1 a prompt token, $2 a reply one
    )


def test_a_step_asks_the_model_and_the_job_counts_its_tokens(
    llm_deployment: Settings, llm_server: LLMServer
) -> None:
    llm_server.script(
        RateLimited(retry_after=0.1),  # retried inside the call
        Reply("blue", usage=Usage(prompt_tokens=7, completion_tokens=1)),
        Reply("green", usage=Usage(prompt_tokens=5, completion_tokens=2)),
    )
    plan = {
        "steps": [
            {"id": "sky", "agent": "ask", "input": {"question": "colour of the sky?"}},
            {
                "id": "grass",
                "agent": "ask",
                "input": {"question": "and grass?"},
                "depends_on": ["sky"],
            },
        ]
    }
    with Client(llm_deployment) as client:
        result = client.submit(plan=plan).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.steps["sky"].output == {"answer": "blue"}
    assert result.steps["sky"].usage.model_dump() == {
        "prompt_tokens": 7,
        "completion_tokens": 1,
        "total_tokens": 8,
        "cost": 9.0,
    }
    assert result.usage.total_tokens == 8 + 7
    assert result.steps["sky"].usage.cost == 7 * 1 + 1 * 2
    assert result.usage.cost == (7 + 5) * 1 + (1 + 2) * 2
    assert llm_server.chat_requests[0].body["model"] == "test-model"


def test_a_step_that_fails_after_its_calls_still_counts_them(
    llm_deployment: Settings, llm_server: LLMServer
) -> None:
    # No budget: the calls' tokens are written when the step ends, however it ends.
    llm_server.script(Reply("maybe", usage=Usage(prompt_tokens=4, completion_tokens=3)))
    plan = {"steps": [{"id": "d", "agent": "doubt", "input": {"question": "sure?"}}]}
    with Client(llm_deployment) as client:
        result = client.submit(plan=plan).wait(timeout=60)
    assert result.status == "failed" and "not sure about 'maybe'" in (result.steps["d"].error or "")
    assert result.steps["d"].usage.model_dump() == {
        "prompt_tokens": 4,
        "completion_tokens": 3,
        "total_tokens": 7,
        "cost": 4 * 1 + 3 * 2,
    }
    assert result.usage.total_tokens == 7 and result.usage.cost == 10


@pytest.mark.faults
def test_a_model_that_always_fails_ends_the_step_with_a_clear_error(
    llm_deployment: Settings, llm_server: LLMServer
) -> None:
    llm_server.default = ServerError(503)
    plan = {"steps": [{"id": "q", "agent": "ask", "input": {"question": "anyone there?"}}]}
    with Client(llm_deployment) as client:
        result = client.submit(plan=plan).wait(timeout=60)
    step = result.steps["q"]
    assert result.status == "failed"
    assert step.status == "failed" and step.attempts == 3  # the step was retried, then gave up
    assert step.error and "answered 503" in step.error
    assert len(llm_server.chat_requests) == 3 * 2  # llm_attempts calls per step attempt


def test_a_step_that_would_go_over_the_budget_fails_and_the_job_says_so(
    llm_deployment: Settings, llm_server: LLMServer
) -> None:
    llm_server.default = Reply("fine", usage=Usage(prompt_tokens=300, completion_tokens=300))
    plan = {
        "steps": [
            {"id": "first", "agent": "ask", "input": {"question": "one"}},
            {"id": "second", "agent": "ask", "input": {"question": "two"}, "depends_on": ["first"]},
        ]
    }
    with Client(llm_deployment) as client:
        result = client.submit(plan=plan, budget=Budget(tokens=800)).wait(timeout=60)
    assert result.steps["first"].status == "succeeded"
    second = result.steps["second"]
    assert second.status == "failed" and second.attempts == 1  # a budget error is permanent
    assert second.error and "budget of 800 tokens would be exceeded: 600 used" in second.error
    assert result.status == "failed"
    assert result.error and "budget" in result.error
    # 600 used + about 263 for the second call (its prompt and the default 256 for the reply).
    assert len(llm_server.chat_requests) == 1  # the second call was never made


@pytest.mark.faults
def test_a_hanging_model_times_out_and_the_worker_carries_on(
    isolated: Callable[..., Settings], llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    live = isolated(
        workers=1,
        agent_modules=[TEST_AGENTS, "tests.support.llm_agents"],
        llm_backend="openai",
        llm_model="test-model",
        llm_timeout_seconds=0.5,
        llm_attempts=1,
        step_max_attempts=2,
    )
    llm_server.script(Hang(), Hang())
    with Client(live) as client:
        hung = client.submit(
            plan={"steps": [{"id": "q", "agent": "ask", "input": {"question": "hello?"}}]}
        )
        result = hung.wait(timeout=60)
        step = result.steps["q"]
        assert step.status == "failed" and step.attempts == 2
        assert step.error and "timed out" in step.error
        # The worker is free again: the next call is answered.
        llm_server.default = Reply("awake")
        again = client.submit(
            plan={"steps": [{"id": "q", "agent": "ask", "input": {"question": "now?"}}]}
        )
        assert again.wait(timeout=60).answer == {"answer": "awake"}


def test_a_model_that_never_returns_valid_json_fails_the_step_clearly(
    llm_deployment: Settings, llm_server: LLMServer
) -> None:
    llm_server.default = MalformedJSON('{"text": "half')
    plan = {
        "steps": [
            {
                "id": "a",
                "agent": "generation",
                "input": {"instruction": "say something", "context": "Some text."},
            }
        ]
    }
    with Client(llm_deployment) as client:
        result = client.submit(plan=plan).wait(timeout=60)
    step = result.steps["a"]
    assert step.status == "failed" and step.attempts == 1  # invalid output is permanent
    assert step.error and "gave no valid" in step.error
    assert len(llm_server.chat_requests) == 3  # the first answer and two repairs
