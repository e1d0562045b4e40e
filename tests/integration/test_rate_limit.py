"""A 429 storm across four workers: the shared rate limit holds, retries back off with
jitter, other queues flow, and a step whose retries run out fails saying why."""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import pytest

from agents.llm import OpenAIChatModel
from agents.llm.ratelimit import RateLimitedChatModel
from orchestrator import names
from orchestrator.client import Client
from orchestrator.settings import Settings
from tests.support.helpers import TEST_AGENTS, wait_for
from tests.support.llm_server import LLMServer, RateLimited, RecordedRequest, Respond

pytestmark = pytest.mark.faults

RPM = 120  # two requests a second, for every worker together
RETRY_AFTER = 0.5
STORM = 6  # requests answered 429 before the endpoint recovers


def test_a_429_storm_across_four_workers_keeps_to_the_shared_limit(
    isolated: Callable[..., Settings], llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    storm = threading.Event()
    storm.set()
    refused: list[float] = []  # when each 429 was answered

    def answer(request: RecordedRequest) -> RateLimited | str:
        question = request.last_user_message
        if question == "doomed" or storm.is_set():
            refused.append(time.monotonic())
            if len(refused) >= STORM:
                storm.clear()
            return RateLimited(retry_after=RETRY_AFTER)
        return f"answer to {question}"

    llm_server.default = Respond(answer)
    live = isolated(
        workers=4,
        agent_modules=[TEST_AGENTS, "tests.support.llm_agents"],
        llm_backend="auto",
        llm_model="test-model",
        llm_cache=False,
        llm_attempts=2,
        step_max_attempts=4,
        llm_requests_per_minute=RPM,
    )
    questions = [f"question {i}" for i in range(12)]
    plan = {
        "steps": [
            *(
                {"id": f"q{i}", "agent": "ask", "input": {"question": q}}
                for i, q in enumerate(questions)
            ),
            {"id": "doomed", "agent": "ask", "input": {"question": "doomed"}},
        ]
    }
    with Client(live) as client:
        # Start from an empty bucket, so that every request below is paced by the limit.
        endpoint = OpenAIChatModel("test-model", base_url=llm_server.base_url)
        bucket = RateLimitedChatModel(
            endpoint, client.runtime.redis, prefix=names.LLM_BUCKET_PREFIX, rpm=RPM, tpm=0
        )
        while bucket.acquire(0) == 0:
            pass
        drained = time.monotonic()
        endpoint.close()
        job = client.submit(plan=plan)
        wait_for(lambda: refused, what="the storm to begin")
        other = client.submit(
            plan={"steps": [{"id": "e", "agent": "echo", "input": {"text": "on"}}]}
        )
        elsewhere = other.wait(timeout=30)
        during = storm.is_set()
        result = job.wait(timeout=90)
        events = list(job.events(follow=False))

    # Other queues flowed while the model's steps waited.
    assert elsewhere.status == "succeeded" and during
    # Every question was answered once the endpoint recovered; the doomed one failed clearly.
    assert result.status == "partial"
    for i, question in enumerate(questions):
        assert result.steps[f"q{i}"].output == {"answer": f"answer to {question}"}
    doomed = result.steps["doomed"]
    assert doomed.status == "failed" and doomed.attempts == live.step_max_attempts
    assert doomed.error and "answered 429" in doomed.error

    received = sorted(request.received_at for request in llm_server.chat_requests)
    # The endpoint saw no more than the shared limit allows, four workers together:
    # an empty bucket at `drained`, refilled at RPM / 60 a second.
    for count, at in enumerate(received, start=1):
        assert count <= 1 + (at - drained) * RPM / 60 + 0.5, f"request {count} came too soon"
    # Told to wait, every worker waited: nothing arrived in the next Retry-After
    # (bar requests already on their way when the 429 was sent).
    for told in refused:
        early = [at for at in received if told + 0.25 < at < told + RETRY_AFTER]
        assert not early, f"requests {early} arrived within Retry-After of a 429 at {told}"
    # Each step's own retries came no sooner than Retry-After, and not all in step.
    by_question: dict[str, list[float]] = defaultdict(list)
    for request in llm_server.chat_requests:
        by_question[request.last_user_message].append(request.received_at)
    gaps = [b - a for times in by_question.values() for a, b in itertools.pairwise(times)]
    assert min(gaps) >= RETRY_AFTER - 0.01
    delays = [e.data["delay"] for e in events if e.type == "step_retrying"]
    assert delays and min(delays) >= RETRY_AFTER and len(set(delays)) > 1  # jitter
    print(f"{len(received)} requests, {len(refused)} answered 429, step retries {len(delays)}")
