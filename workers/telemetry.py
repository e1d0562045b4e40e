"""A worker's Prometheus metrics (``prometheus-client``), beside Flower's task metrics.

Served at ``http://WORKER:CELERIAC_METRICS_PORT/metrics`` when the port is set:

- ``celeriac_steps_total{agent, outcome}``: steps this worker ran, by how they ended
  (succeeded, failed, retried, under_threshold).
- ``celeriac_step_seconds{agent}``: how long steps took, as a histogram.
- ``celeriac_llm_tokens_total{model, kind}`` and ``celeriac_llm_cost_usd_total{model}``:
  what the model calls of its steps used.
- ``celeriac_llm_rate_limit_wait_seconds_total{model}``: time spent waiting for the
  shared rate limit.
- ``celeriac_queue_length{queue}``: messages waiting in each queue this worker serves, read
  from the broker when scraped.

With the threads (default) or solo pool, every step runs in the process that serves them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import redis
from celery import Celery
from kombu.exceptions import OperationalError
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from agents.llm import Usage
from orchestrator.transport.celery_app import queue_lengths


class _QueueLengths(Collector):
    def __init__(self, app: Celery, queues: Sequence[str]) -> None:
        self.app = app
        self.queues = list(queues)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "celeriac_queue_length", "Messages waiting in a queue.", labels=["queue"]
        )
        try:
            lengths = queue_lengths(self.app, self.queues)
        except (OSError, redis.RedisError, OperationalError):
            return  # no figure rather than a wrong one while the broker is away
        for queue, length in zip(self.queues, lengths, strict=True):
            family.add_metric([queue], length)
        yield family


class Telemetry:
    """The metrics of one worker process, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.steps = Counter(
            "celeriac_steps",
            "Steps run by this worker, by agent type and outcome.",
            ["agent", "outcome"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "celeriac_step_seconds",
            "How long steps took, by agent type.",
            ["agent"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=self.registry,
        )
        self.tokens = Counter(
            "celeriac_llm_tokens",
            "Tokens used by steps' model calls.",
            ["model", "kind"],
            registry=self.registry,
        )
        self.cost = Counter(
            "celeriac_llm_cost_usd",
            "Cost of steps' model calls (CELERIAC_LLM_PRICES).",
            ["model"],
            registry=self.registry,
        )
        self.waits = Counter(
            "celeriac_llm_rate_limit_wait_seconds",
            "Time spent waiting for the shared LLM rate limit.",
            ["model"],
            registry=self.registry,
        )

    def step(self, agent: str, outcome: str, seconds: float) -> None:
        self.steps.labels(agent, outcome).inc()
        self.seconds.labels(agent).observe(seconds)

    def usage(self, model: str, usage: Usage, cost: float) -> None:
        self.tokens.labels(model, "prompt").inc(usage.prompt_tokens)
        self.tokens.labels(model, "completion").inc(usage.completion_tokens)
        self.cost.labels(model).inc(cost)

    def waited(self, model: str, seconds: float) -> None:
        self.waits.labels(model).inc(seconds)

    def serve(self, port: int, app: Celery, queues: Sequence[str]) -> Any:
        """Serve /metrics on ``port`` (all addresses), with the queues' lengths on the broker."""
        self.registry.register(_QueueLengths(app, queues))
        return start_http_server(port, registry=self.registry)
