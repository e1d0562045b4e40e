"""Every job one OpenTelemetry trace, when the OpenTelemetry SDK's own settings ask for it.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, and
``celeriac[tracing]`` installed, each process exports its spans over OTLP/HTTP; without it
nothing here imports ``opentelemetry`` and every call is a no-op that costs a check.

A job's trace is rooted in its ``celeriac.submit`` span, whose W3C ``traceparent`` the job
record keeps (field ``trace``) and step messages carry in their headers: any process
continues the trace, also one that was not handed the message by the last one (the sweeper,
a step another worker made ready). Light: no celery, no openai.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
HEADER = "traceparent"
Attributes = Mapping[str, str | int | float | bool]

# The traceparent of the job being worked on: what messages published now carry, so that
# every step's span hangs from the job's root whichever step made it ready.
_job: contextvars.ContextVar[str] = contextvars.ContextVar("celeriac_job_trace", default="")
_lock = threading.Lock()
_state: dict[str, Any] = {}  # "on": bool, "tracer", "provider", once decided


def enabled() -> bool:
    """Whether spans are exported: an OTLP endpoint is set and the SDK is installed."""
    if "on" not in _state:
        with _lock:
            if "on" not in _state:
                _state["on"] = _start()
    return bool(_state["on"])


def _start() -> bool:
    wanted = any(os.environ.get(name) for name in ENDPOINT_VARIABLES)
    if not wanted or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed, so no "
            "traces are sent: pip install 'celeriac[tracing]'"
        )
        return False
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the name, as the SDK does.
    resource = Resource.create({"service.name": "celeriac", "process.pid": os.getpid()})
    provider = TracerProvider(resource=resource)  # flushes at exit (shutdown_on_exit)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _state["provider"] = provider
    _state["tracer"] = provider.get_tracer("celeriac")
    return True


FLUSH_MILLIS = 5000  # a backend that does not answer holds a worker's shutdown no longer


def shutdown() -> None:
    """Export what is buffered (a worker shutting down)."""
    provider = _state.get("provider")
    if provider is not None:
        provider.force_flush(timeout_millis=FLUSH_MILLIS)


def _context(traceparent: str) -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({HEADER: traceparent} if traceparent else {})


def _traceparent(span: Any) -> str:
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def trace_id(traceparent: str | None) -> str | None:
    """The trace id (32 hex digits) in a W3C ``traceparent``; None without one."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


class Span:
    """A span being recorded, or nothing (tracing off): ``set`` attributes, ``fail``."""

    def __init__(self, span: Any = None) -> None:
        self._span = span

    @property
    def traceparent(self) -> str:
        return "" if self._span is None else _traceparent(self._span)

    def set(self, attributes: Attributes) -> None:
        if self._span is not None:
            self._span.set_attributes(dict(attributes))

    def fail(self, message: str) -> None:
        if self._span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_status(Status(StatusCode.ERROR, message))


@contextmanager
def span(
    name: str,
    parent: str | None = None,
    attributes: Attributes | None = None,
    *,
    kind: str = "INTERNAL",
    root: bool = False,
) -> Iterator[Span]:
    """A span, current inside the block, under ``parent`` (a traceparent; None: the current
    span, ``root``: none). An exception leaving the block is recorded on it."""
    if not enabled():
        yield Span()
        return
    from opentelemetry import trace
    from opentelemetry.context import Context

    context = Context() if root else _context(parent) if parent else None
    with _state["tracer"].start_as_current_span(
        name, context=context, kind=trace.SpanKind[kind], attributes=dict(attributes or {})
    ) as current:
        yield Span(current)


def annotate(attributes: Attributes) -> None:
    """Set attributes on the current span (a step's scores, a job's status)."""
    if enabled():
        from opentelemetry import trace

        trace.get_current_span().set_attributes(dict(attributes))


def record(
    name: str, parent: str, start: float, end: float, attributes: Attributes, error: str = ""
) -> None:
    """A span no one could hold open (a wait for a person) or its own process could not send
    (a worker killed mid-step), recorded by whoever noticed its end: from ``start`` to
    ``end`` (Unix seconds), failed with ``error`` if one is given."""
    if not enabled() or not parent:
        return
    from opentelemetry.trace import Status, StatusCode

    done = _state["tracer"].start_span(
        name, context=_context(parent), attributes=dict(attributes), start_time=int(start * 1e9)
    )
    if error:
        done.set_status(Status(StatusCode.ERROR, error))
    done.end(end_time=int(end * 1e9))


@dataclass(frozen=True)
class Attempt:
    """One attempt of a step, as its span names it."""

    job_id: str
    step_id: str
    number: int
    agent: str
    worker: str

    def attributes(self) -> dict[str, str | int | float | bool]:
        return {
            "celeriac.job.id": self.job_id,
            "celeriac.step.id": self.step_id,
            "celeriac.step.attempt": self.number,
            "celeriac.agent": self.agent,
            "celeriac.worker": self.worker,
        }


def lost(parent: str, attempt: Attempt, start: float, lease_until: float, end: float) -> None:
    """The span of an attempt whose worker died mid-step (outcome ``lost``), recorded by
    whoever noticed: the sweeper, or the attempt that took over from it."""
    error = f"worker {attempt.worker} lost (lease expired) during attempt {attempt.number}"
    attributes = {
        **attempt.attributes(),
        "celeriac.step.outcome": "lost",
        "celeriac.step.lease_until": lease_until,
    }
    record(f"step {attempt.step_id}", parent, start, end, attributes, error)


def waited(
    parent: str, job_id: str, step_id: str | None, start: float, end: float, answer: str
) -> None:
    """The span of a wait for a person (a job's plan, or a step), ended by ``answer``:
    approved, rejected, or expired."""
    attributes = {"celeriac.job.id": job_id, "celeriac.approval.answer": answer}
    if step_id is not None:
        attributes["celeriac.step.id"] = step_id
    record("celeriac.approval", parent, start, end, attributes)


@contextmanager
def job(traceparent: str) -> Iterator[None]:
    """Inside the block, messages published carry ``traceparent`` (the job's root)."""
    token = _job.set(traceparent)
    try:
        yield
    finally:
        _job.reset(token)


def headers() -> dict[str, str]:
    """The headers a message published now carries: the job's trace context, if any."""
    if not enabled():
        return {}
    traceparent = _job.get()
    if not traceparent:
        from opentelemetry import trace

        current = trace.get_current_span()
        traceparent = _traceparent(current) if current.get_span_context().is_valid else ""
    return {HEADER: traceparent} if traceparent else {}
