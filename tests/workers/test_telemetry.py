"""A worker's Prometheus metrics: served while it runs, counting what its steps did."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents.llm import Usage
from orchestrator.client import Client
from orchestrator.embedded.redis_server import free_port
from orchestrator.settings import Settings
from tests.support.helpers import wait_for
from workers.telemetry import Telemetry


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_worker_serves_metrics_of_its_steps_and_queues(isolated: Callable[..., Settings]) -> None:
    port = free_port()
    live = isolated(workers=1, metrics_port=port)
    plan = {
        "steps": [
            {"id": "a", "agent": "echo", "input": {"text": "one"}},
            {"id": "b", "agent": "echo", "input": {"text": "two"}},
            {"id": "c", "agent": "fail", "input": {"message": "no"}},
        ]
    }
    with Client(live) as client:
        result = client.submit(plan=plan).wait(timeout=60)
    assert result.status == "partial"

    def counted() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        samples = scrape(port)
        done = samples.get(("celeriac_steps_total", (("agent", "echo"), ("outcome", "succeeded"))))
        return samples if done == 2 else None

    samples = wait_for(counted, what="the worker's step counts")
    assert (
        samples[("celeriac_steps_total", (("agent", "fail"), ("outcome", "permanent_error")))] == 1
    )
    assert samples[("celeriac_step_seconds_count", (("agent", "echo"),))] == 2
    assert samples[("celeriac_queue_length", (("queue", "agent.echo"),))] == 0
    assert ("celeriac_queue_length", (("queue", "orchestrator"),)) in samples


def test_model_usage_and_rate_limit_waits_are_counted() -> None:
    telemetry = Telemetry()
    telemetry.usage("gpt-test", Usage(prompt_tokens=7, completion_tokens=3), 0.25)
    telemetry.usage("gpt-test", Usage(prompt_tokens=1, completion_tokens=1), 0.05)
    telemetry.waited("gpt-test", 1.5)
    value = telemetry.registry.get_sample_value
    assert value("celeriac_llm_tokens_total", {"model": "gpt-test", "kind": "prompt"}) == 8
    assert value("celeriac_llm_tokens_total", {"model": "gpt-test", "kind": "completion"}) == 4
    assert value("celeriac_llm_cost_usd_total", {"model": "gpt-test"}) == pytest.approx(0.3)
    assert value("celeriac_llm_rate_limit_wait_seconds_total", {"model": "gpt-test"}) == 1.5
