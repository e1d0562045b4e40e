"""Every job one OpenTelemetry trace: exported by the client and real worker processes to an
OTLP receiver of the test's own, across machines' worth of processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from orchestrator import names, tracing
from orchestrator.client import Client
from orchestrator.embedded.deployment import Embedded, settings_env
from orchestrator.embedded.redis_server import RedisServer, free_port
from orchestrator.settings import Settings
from tests.integration.test_approval import REFUND
from tests.integration.test_faults import gated_plan, killed_mid_step
from tests.integration.test_jobs import open_gate
from tests.integration.test_planner import FAILING_BRANCH, SAFE_BRANCH
from tests.support.helpers import (
    ROOT,
    TEST_AGENTS,
    WITH_TEST_MODEL,
    http_get,
    make_settings,
    wait_for,
)
from tests.support.llm_server import LLMServer, Reply, Usage
from tests.support.otlp import OTLPReceiver, ReceivedSpan
from tests.support.sample_agents import TEST_PREFIX

API_KEY = "sk-celeriac-trace-KEY-0b5e91c4"
PASSWORD = "redis-trace-PASSWORD-3a7f20d6"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OTLPReceiver]:
    """An OTLP receiver, and OTEL settings pointing there for this process and its workers."""
    with OTLPReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # ms: spans go out at once
        monkeypatch.setattr(tracing, "_state", {})  # this process decides again, traced
        yield receiver
        tracing.shutdown()


def trace_of(receiver: OTLPReceiver, trace_id: str, names: set[str]) -> list[ReceivedSpan]:
    """The trace's spans, once all of ``names`` have arrived."""
    tracing.shutdown()  # the client's spans

    def arrived() -> list[ReceivedSpan] | None:
        spans = receiver.spans(trace_id)
        return spans if names <= {span.name for span in spans} else None

    found: list[ReceivedSpan] = wait_for(arrived, what=f"spans {sorted(names)}")
    return found


def only(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    [span] = [span for span in spans if span.name == name]
    return span


def diamond(barrier: str) -> dict[str, Any]:
    """a asks the model; b and c meet at a barrier (so each holds one of two workers of one
    slot each); d asks the model again."""
    meet = {"agent": "barrier", "input": {"name": barrier, "parties": 2}, "depends_on": ["a"]}
    return {
        "steps": [
            {"id": "a", "agent": "ask", "input": {"question": "first?"}},
            {"id": "b", **meet},
            {"id": "c", **meet},
            {"id": "d", "agent": "ask", "input": {"question": "last?"}, "depends_on": ["b", "c"]},
        ]
    }


@pytest.fixture
def secured(
    receiver: OTLPReceiver,
    llm_server: LLMServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Settings]:
    """Two workers of one slot each, on a Redis with a password, with a model key."""
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    with RedisServer(password=PASSWORD) as server:
        settings = make_settings(
            server.url, **{**WITH_TEST_MODEL, "llm_cache": False}, embedded_workers=2
        )
        embedded = Embedded(
            settings.model_copy(update={"data_dir": tmp_path}),
            worker_args=["--concurrency", "1"],
        )
        try:
            yield embedded.start()
        finally:
            embedded.stop()


def test_a_diamond_job_is_one_trace_across_two_worker_processes(
    secured: Settings,
    receiver: OTLPReceiver,
    llm_server: LLMServer,
    unique: Callable[[str], str],
) -> None:
    assert secured.redis_url and PASSWORD in secured.redis_url
    llm_server.script(
        Reply("one", usage=Usage(prompt_tokens=7, completion_tokens=1)),
        Reply("two", usage=Usage(prompt_tokens=5, completion_tokens=2)),
    )
    with Client(secured) as client:
        result = client.submit(plan=diamond(unique("meet"))).wait(timeout=60)
    assert result.status == "succeeded", result.error
    assert result.trace_id and len(result.trace_id) == 32

    steps = {"step a", "step b", "step c", "step d"}
    spans = trace_of(receiver, result.trace_id, {"celeriac.submit", "celeriac.finalize", *steps})
    root = only(spans, "celeriac.submit")
    assert root.parent_id == "" and root.attributes["celeriac.job.id"] == result.job_id
    # Every span of the job is in its trace, and none is lost to another trace.
    of_job = [s for s in receiver.spans() if s.attributes.get("celeriac.job.id") == result.job_id]
    assert {s.trace_id for s in of_job} == {result.trace_id}
    by_name = {name: only(spans, name) for name in steps}
    for step_id, span in ((name.split()[1], span) for name, span in by_name.items()):
        assert span.parent_id == root.span_id  # each step hangs from the job's root
        assert span.attributes["celeriac.step.id"] == step_id
        assert span.attributes["celeriac.step.attempt"] == 1
        assert span.attributes["celeriac.step.outcome"] == "succeeded"
        assert span.attributes["celeriac.worker"] == result.steps[step_id].worker
        assert span.error is None
    # b and c met at the barrier: each in one of the two worker processes.
    assert (
        by_name["step b"].attributes["celeriac.worker"]
        != by_name["step c"].attributes["celeriac.worker"]
    )
    assert len({by_name["step b"].pid, by_name["step c"].pid, root.pid}) == 3
    assert only(spans, "celeriac.finalize").attributes["celeriac.job.status"] == "succeeded"

    chats = [s for s in spans if s.name == "chat test-model"]
    assert sorted(s.parent_id for s in chats) == sorted(
        [by_name["step a"].span_id, by_name["step d"].span_id]
    )
    first = next(s for s in chats if s.parent_id == by_name["step a"].span_id)
    assert first.attributes["gen_ai.operation.name"] == "chat"
    assert first.attributes["gen_ai.request.model"] == "test-model"
    assert first.attributes["gen_ai.usage.input_tokens"] == 7
    assert first.attributes["gen_ai.usage.output_tokens"] == 1
    assert first.attributes["server.address"] == "127.0.0.1"
    assert "gen_ai.input.messages" not in first.attributes  # CELERIAC_TRACE_CONTENT is off
    assert "gen_ai.output.messages" not in first.attributes

    exported = json.dumps([s.attributes for s in receiver.spans()], default=str)
    assert API_KEY not in exported and PASSWORD not in exported
    assert "first?" not in exported and '"one"' not in exported


def test_prompts_and_replies_go_into_spans_when_the_setting_allows(
    receiver: OTLPReceiver,
    isolated: Callable[..., Settings],
    llm_server: LLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    live = isolated(workers=1, **{**WITH_TEST_MODEL, "llm_cache": False}, trace_content=True)
    llm_server.script(Reply("blue"))
    plan = {"steps": [{"id": "a", "agent": "ask", "input": {"question": "colour of the sky?"}}]}
    with Client(live) as client:
        result = client.submit(plan=plan).wait(timeout=60)
    assert result.status == "succeeded" and result.trace_id
    chat = only(trace_of(receiver, result.trace_id, {"chat test-model"}), "chat test-model")
    asked = json.loads(chat.attributes["gen_ai.input.messages"])
    said = json.loads(chat.attributes["gen_ai.output.messages"])
    assert asked == [{"role": "user", "parts": [{"type": "text", "content": "colour of the sky?"}]}]
    assert said == [{"role": "assistant", "parts": [{"type": "text", "content": "blue"}]}]


@pytest.mark.faults
def test_a_worker_killed_mid_step_leaves_a_lost_span_and_a_retry_span_in_the_trace(
    receiver: OTLPReceiver, isolated: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    live = isolated(workers=2)
    assert live.redis_url
    r = redis.Redis.from_url(live.redis_url, decode_responses=True)
    _, victim, result = killed_mid_step(live, r, unique("kill"))
    r.close()
    assert result.status == "succeeded" and result.trace_id
    assert result.steps["slow"].attempts == 2

    def both_attempts() -> list[ReceivedSpan] | None:
        spans = trace_of(receiver, result.trace_id or "", set())
        spans = [span for span in spans if span.name == "step slow"]
        return spans if len(spans) == 2 else None

    lost, retry = sorted(wait_for(both_attempts, what="two attempts' spans"), key=_attempt)
    root = only(receiver.spans(result.trace_id), "celeriac.submit")
    assert lost.parent_id == retry.parent_id == root.span_id
    assert lost.attributes["celeriac.step.outcome"] == "lost"
    assert lost.attributes["celeriac.worker"] == victim
    assert lost.attributes["celeriac.step.lease_until"] > lost.start
    assert lost.error and "lost (lease expired)" in lost.error and victim in lost.error
    assert retry.attributes["celeriac.step.outcome"] == "succeeded"
    assert retry.attributes["celeriac.worker"] not in ("", victim)
    assert retry.error is None and retry.start >= lost.start


def _attempt(span: ReceivedSpan) -> int:
    return int(span.attributes["celeriac.step.attempt"])


CLIENT_PROBE = """
import json, sys
from orchestrator.client import Client
with Client() as client:
    result = client.submit(plan={"steps": [{"id": "a", "agent": "loaded", "input": {}}]}).wait(60)
print(json.dumps({"status": result.status, "trace_id": result.trace_id,
                  "worker": result.answer["packages"], "client": sorted(sys.modules)}))
"""
# What tracing would load: redis-py (8.x) imports OpenTelemetry's metrics API and SDK by
# itself wherever they are installed, so their mere presence says nothing of celeriac.
TRACING_MODULES = (
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter",
    "opentelemetry.trace.propagation.tracecontext",
)


@pytest.mark.parametrize("installed", [False, True], ids=["not-installed", "installed"])
def test_without_the_setting_nothing_of_tracing_is_imported(
    isolated: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, installed: bool
) -> None:
    assert not any(name.startswith("OTEL_") for name in os.environ)
    if not installed:  # every process of the deployment as if without celeriac[tracing]
        monkeypatch.setenv("PYTHONPATH", str(ROOT / "tests" / "support" / "without_otel"))
    live = isolated(workers=1, agent_modules=[TEST_AGENTS, "tests.support.trace_agents"])
    done = subprocess.run(
        [sys.executable, "-c", CLIENT_PROBE],
        cwd=ROOT,
        env={**os.environ, **settings_env(live)},
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    seen = json.loads(done.stdout)
    assert seen["status"] == "succeeded" and seen["trace_id"] is None
    assert "celery" in seen["worker"]  # the probe sees a real worker's modules
    for process in ("worker", "client"):
        loaded = seen[process]
        if installed:
            assert not [m for m in loaded if m.startswith(TRACING_MODULES)], process
        else:
            assert not [m for m in loaded if m.startswith("opentelemetry")], process


def test_planning_and_replanning_are_spans_with_their_model_calls(
    receiver: OTLPReceiver, planning: Settings, llm_server: LLMServer
) -> None:
    llm_server.script(Reply.of_json(FAILING_BRANCH), Reply.of_json(SAFE_BRANCH))
    with Client(planning) as client:
        result = client.submit(goal="Greet the world").wait(timeout=60)
    assert result.status == "succeeded" and result.trace_id and len(result.replans) == 1
    wanted = {"celeriac.plan", "celeriac.replan", "step risky", "step safe", "step final_2"}
    spans = trace_of(receiver, result.trace_id, wanted)
    root = only(spans, "celeriac.submit")
    plan, replan = only(spans, "celeriac.plan"), only(spans, "celeriac.replan")
    assert plan.parent_id == root.span_id
    finalizers = {s.span_id for s in spans if s.name == "celeriac.finalize"}
    assert replan.parent_id in finalizers and replan.attributes["celeriac.step.id"] == "risky"
    chats = {s.parent_id for s in spans if s.name == "chat test-model"}
    assert chats == {plan.span_id, replan.span_id}  # the planner's calls, each under its span
    risky = only(spans, "step risky")
    assert risky.attributes["celeriac.step.outcome"] == "permanent_error"
    assert risky.error and "the risky way is closed" in risky.error


def test_a_wait_for_approval_is_a_span_from_the_ask_to_the_answer(
    receiver: OTLPReceiver, isolated: Callable[..., Settings]
) -> None:
    live = isolated(workers=1)
    plan = {"steps": [{"id": "a", "agent": "echo", "input": {"text": "hi"}}]}
    with Client(live) as client:
        job = client.submit(plan=plan, approval="plan")
        wait_for(lambda: job.status() == "awaiting_approval", what="the job to wait")
        job.approve()
        result = job.wait(timeout=60)
    assert result.status == "succeeded" and result.trace_id
    spans = trace_of(receiver, result.trace_id, {"celeriac.approval", "step a"})
    root, wait = only(spans, "celeriac.submit"), only(spans, "celeriac.approval")
    assert wait.parent_id == root.span_id
    assert wait.attributes["celeriac.approval.answer"] == "approved"
    assert wait.error is None and wait.start <= wait.end <= only(spans, "step a").start


def test_a_step_wait_that_expires_is_a_span_the_sweeper_records(
    receiver: OTLPReceiver, isolated: Callable[..., Settings]
) -> None:
    live = isolated(workers=1)
    with Client(live) as client:
        result = client.submit(plan=REFUND, approval_timeout=0.5).wait(timeout=30)
    assert result.trace_id and result.steps["refund"].status == "failed"
    spans = trace_of(receiver, result.trace_id, {"celeriac.approval"})
    wait = only(spans, "celeriac.approval")
    assert wait.parent_id == only(spans, "celeriac.submit").span_id
    assert wait.attributes["celeriac.approval.answer"] == "expired"
    assert wait.attributes["celeriac.step.id"] == "refund"
    assert 0.5 <= wait.end - wait.start < 30


def test_the_trace_context_travels_in_the_message_headers(
    receiver: OTLPReceiver, isolated: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    live = isolated(workers=1)
    assert live.redis_url
    r = redis.Redis.from_url(live.redis_url, decode_responses=True)
    gate = unique("headers")
    with Client(live) as client:
        job = client.submit(plan=gated_plan(gate))
        wait_for(lambda: r.lindex(f"{TEST_PREFIX}:started:{gate}", 0), what="the step to start")
        # Without the job record's copy, only the message can tell `after` its trace.
        r.hdel(names.job_key(job.id), "trace")
        open_gate(r, gate)
        result = job.wait(timeout=60)
    r.close()
    assert result.status == "succeeded" and result.trace_id is None  # the record forgot it
    tracing.shutdown()

    def of_job() -> list[ReceivedSpan] | None:
        spans = [s for s in receiver.spans() if s.attributes.get("celeriac.job.id") == job.id]
        return spans if {"celeriac.submit", "step after"} <= {s.name for s in spans} else None

    spans: list[ReceivedSpan] = wait_for(of_job, what="the job's spans")
    root = only(spans, "celeriac.submit")
    assert only(spans, "step after").parent_id == root.span_id
    assert only(spans, "step after").trace_id == root.trace_id


def test_flower_shows_each_steps_trace_id_in_its_arguments(
    receiver: OTLPReceiver,
    isolated: Callable[..., Settings],
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    live = isolated(workers=1)
    port = free_port()
    spawn(live, "flower", "--port", str(port), "--basic-auth", "ada:secret")
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_get(base)[0] == 401, what="Flower to answer (and ask for a login)")
    traces: dict[str, str] = {}

    def flower_shows_a_trace_id() -> bool:
        # Flower hears task events only once its receiver is connected, a little after its
        # web server answers: run small jobs until one's step is seen.
        status, body = http_get(f"{base}/api/tasks", auth="ada:secret")
        assert status == 200
        for task in json.loads(body).values():
            job_id = next((j for j in traces if j in str(task.get("kwargs"))), None)
            if job_id and task["name"] == "echo":
                assert f"'trace_id': '{traces[job_id]}'" in task["kwargs"]
                return True
        with Client(live) as client:
            result = client.submit(plan=plan_of_echo()).wait(timeout=60)
        assert result.status == "succeeded" and result.trace_id, result.error
        traces[result.job_id] = result.trace_id
        return False

    wait_for(flower_shows_a_trace_id, what="Flower to list a traced job's step")


def plan_of_echo() -> dict[str, Any]:
    return {"steps": [{"id": "a", "agent": "echo", "input": {"text": "traced"}}]}
