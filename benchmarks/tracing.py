"""Tracing: what a job costs with OpenTelemetry on, and what tracing costs when it is off.

The 4-step echo diamond of ``latency``, one job at a time on two workers: once without
OTEL_EXPORTER_OTLP_ENDPOINT, once exporting every span over OTLP/HTTP to a receiver in this
process (tests/support/otlp.py; batched, 100 ms schedule). Then the price of the calls a
step makes into ``orchestrator.tracing`` when tracing is off, per call.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

from benchmarks.deployment import Deployment
from benchmarks.latency import measure
from benchmarks.report import Column, Table, fixed
from orchestrator import tracing
from tests.support.otlp import OTLPReceiver

FULL_JOBS, QUICK_JOBS = 50, 10
OFF_CALLS = 200_000


@contextlib.contextmanager
def traced(endpoint: str | None) -> Iterator[None]:
    """OTEL settings for this process and the workers started meanwhile (``endpoint`` None:
    none); the environment and this process's tracing restored after."""
    wanted = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    saved = {name: os.environ.get(name) for name in wanted}
    for name, value in wanted.items():
        if endpoint is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value or ""
    tracing.shutdown()
    tracing._state.clear()  # this process decides again
    try:
        yield
    finally:
        tracing.shutdown()
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
        tracing._state.clear()


def off_call_ns() -> float:
    """Nanoseconds a step's tracing calls (its span, the job's context, scores) take off."""
    attributes: tracing.Attributes = {"celeriac.step.id": "a"}
    start = time.perf_counter_ns()
    for _ in range(OFF_CALLS):
        with tracing.span("step a", "", attributes) as span, tracing.job(""):
            span.set(attributes)
        tracing.annotate(attributes)
    return (time.perf_counter_ns() - start) / OFF_CALLS


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    """``repeats`` is not used: the figures are percentiles over many jobs."""
    jobs = QUICK_JOBS if quick else FULL_JOBS
    table = Table(
        "A 4-step echo diamond, one job at a time on 2 workers, with tracing off and on",
        [
            Column("tracing", "tracing", left=True),
            Column("jobs", "jobs"),
            Column("p50_ms", "p50 ms", fixed(1), better="lower"),
            Column("p95_ms", "p95 ms", fixed(1)),
            Column("step_hop_ms", "per step hop ms", fixed(1)),
            Column("spans_per_job", "spans per job", fixed(1)),
        ],
        key=("tracing", "jobs"),
    )
    rows: list[dict[str, Any]] = []
    with OTLPReceiver() as receiver:
        for endpoint in (None, receiver.endpoint):
            before = len(receiver.spans())
            with traced(endpoint), Deployment(workers=2) as live:
                figures = measure(live, jobs)
            # Stopped, the workers have sent their last batch.
            spans = len(receiver.spans()) - before
            total = jobs + 3  # measure's warm-up jobs are traced too
            figures.pop("walls_ms")
            rows.append(
                {"tracing": "on" if endpoint else "off", **figures, "spans_per_job": spans / total}
            )
    table.rows += rows
    with traced(None):
        off = off_call_ns()
    table.notes += [
        "on: every span exported over OTLP/HTTP (protobuf) to a receiver in the benchmark's "
        "process, batched (OTEL_BSP_SCHEDULE_DELAY=100 ms)",
        f"off: a step's tracing calls (span, job context, attributes, scores) cost {off:.0f} ns "
        f"together, measured over {OFF_CALLS} rounds",
    ]
    return [table]
