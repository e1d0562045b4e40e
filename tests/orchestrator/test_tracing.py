"""orchestrator.tracing and the model calls' spans, in this process, to a receiver of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from agents.llm import Message, ScriptedChatModel
from orchestrator import tracing
from orchestrator.llm.traced import TracedChatModel
from orchestrator.store.records import StepMessage
from orchestrator.transport.celery_app import CeleryDispatcher, make_app
from tests.support.helpers import wait_for
from tests.support.otlp import OTLPReceiver, ReceivedSpan

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        monkeypatch.setattr(tracing, "_state", {})
        yield receiver


def exported(receiver: OTLPReceiver, count: int) -> list[ReceivedSpan]:
    tracing.shutdown()  # flushes the batch

    def arrived() -> list[ReceivedSpan] | None:
        spans = receiver.spans()
        return spans if len(spans) >= count else None

    found: list[ReceivedSpan] = wait_for(arrived, what=f"{count} spans")
    return found


def test_the_trace_id_is_read_from_a_traceparent() -> None:
    assert tracing.trace_id(TRACEPARENT) == "0af7651916cd43dd8448eb211c80319c"
    assert tracing.trace_id("") is None and tracing.trace_id("not-one") is None


def test_without_an_endpoint_every_call_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.setattr(tracing, "_state", {})
    with tracing.span("celeriac.submit", root=True) as span, tracing.job(TRACEPARENT):
        span.set({"a": 1})
        span.fail("no")
        assert span.traceparent == ""
        assert tracing.headers() == {}
    tracing.record("x", TRACEPARENT, 0.0, 1.0, {}, "lost")
    assert tracing.enabled() is False


def test_messages_carry_the_jobs_root_and_spans_hang_from_it(receiver: OTLPReceiver) -> None:
    with tracing.span("celeriac.submit", root=True) as root:
        assert tracing.headers() == {"traceparent": root.traceparent}
    with tracing.span("step a", root.traceparent) as step, tracing.job(root.traceparent):
        with tracing.span("chat m"):
            # Published inside a step, a message still names the job's root as its parent.
            assert tracing.headers() == {"traceparent": root.traceparent}
        step.fail("failed: no")
    tracing.record("step b", root.traceparent, 100.0, 101.5, {"celeriac.step.attempt": 1}, "lost")
    spans = {span.name: span for span in exported(receiver, 4)}
    submit = spans["celeriac.submit"]
    assert submit.parent_id == ""
    assert spans["step a"].parent_id == spans["step b"].parent_id == submit.span_id
    assert spans["chat m"].parent_id == spans["step a"].span_id
    assert {span.trace_id for span in spans.values()} == {submit.trace_id}
    assert spans["step a"].error == "failed: no" and spans["step b"].error == "lost"
    assert (spans["step b"].start, spans["step b"].end) == (100.0, 101.5)


@pytest.mark.parametrize("content", [False, True])
def test_a_model_call_is_a_genai_span_with_content_only_if_allowed(
    receiver: OTLPReceiver, content: bool
) -> None:
    inner = ScriptedChatModel(["blue"], model="m-1")
    inner.endpoint = "https://user:secret-pw@models.example:8443/v1?key=sk-secret"
    model = TracedChatModel(inner, content=content)
    assert model.chat([Message(role="user", content="sky?")], max_tokens=20).text == "blue"
    [chat] = exported(receiver, 1)
    assert chat.name == "chat m-1" and chat.kind == 3  # SPAN_KIND_CLIENT
    attributes: dict[str, Any] = chat.attributes
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "m-1"
    assert attributes["gen_ai.request.max_tokens"] == 20
    assert attributes["gen_ai.response.model"] == "m-1"
    assert "gen_ai.usage.input_tokens" in attributes and "gen_ai.usage.output_tokens" in attributes
    assert (attributes["server.address"], attributes["server.port"]) == ("models.example", 8443)
    assert "secret" not in json.dumps(attributes)
    if content:
        said = json.loads(attributes["gen_ai.output.messages"])
        assert said[0]["parts"][0]["content"] == "blue"
        assert "sky?" in attributes["gen_ai.input.messages"]
    else:
        assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(attributes)


def test_a_step_message_carries_the_trace_in_headers_and_its_id_in_arguments(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app("memory://")
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: sent.append(options))
    message = StepMessage("j", "a", 1, "echo", "{}")
    with tracing.job(TRACEPARENT):
        CeleryDispatcher(app).send_steps([message])
    CeleryDispatcher(app).send_steps([message])  # outside any job's trace: nothing
    assert sent[0]["headers"] == {"traceparent": TRACEPARENT}
    assert sent[0]["kwargs"]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert sent[1]["headers"] == {} and "trace_id" not in sent[1]["kwargs"]
