"""Steps that call a chat model, on real workers, against the OpenAI-compatible test server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.client import Client
from orchestrator.settings import Settings
from tests.conftest import TEST_AGENTS
from tests.llm_server import LLMServer, RateLimited, Reply, ServerError, Usage


@pytest.fixture
def llm_deployment(
    isolated: Callable[..., Settings], llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    return isolated(
        workers=1,
        agent_modules=[TEST_AGENTS, "tests.llm_agents"],
        llm_backend="auto",  # the openai backend, since OPENAI_BASE_URL is set
        llm_model="test-model",
        llm_attempts=2,
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
    }
    assert result.usage.total_tokens == 8 + 7
    assert llm_server.chat_requests[0].body["model"] == "test-model"


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
