"""A private deployment for one benchmark: its own Redis, real worker processes, the real SDK.

>>> with Deployment(workers=2) as live:
...     result = live.run({"steps": [{"id": "a", "agent": "noop", "input": {"text": "hi"}}]})
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from agents.errors import CeleriacError
from orchestrator.client import Client, JobHandle
from orchestrator.embedded.deployment import Embedded
from orchestrator.embedded.redis_server import RedisServer
from orchestrator.models import Event, JobResult
from orchestrator.settings import Settings
from tests.support.llm_server import LLMServer, Reply

AGENT_MODULES = ["tests.support.sample_agents", "benchmarks.agents"]
JOB_TIMEOUT = 300.0
ENDPOINT_VARIABLES = ("OPENAI_BASE_URL", "OPENAI_API_KEY")
# Deployment overrides for steps that call the test server: `ask` (tests/support/llm_agents.py).
MODEL_SETTINGS: dict[str, Any] = {
    "agent_modules": [*AGENT_MODULES, "tests.support.llm_agents"],
    "llm_backend": "openai",
    "llm_model": "test-model",
    "llm_cache": False,  # every step's question is the same: a hit would skip the wait
    "scoring_judge": False,
}


class BenchmarkError(CeleriacError):
    """A benchmark's job did not do what it had to: its figures would mean nothing."""


class Deployment:
    """Redis, ``workers`` worker processes and a client; all stopped on exit.

    ``worker_args`` go to each ``celeriac worker`` (e.g. ``["--concurrency", "300"]``);
    ``overrides`` are ``Settings`` fields (``agent_modules`` replaces ``AGENT_MODULES``);
    a ``redis_url`` among them names a store the caller started, and no RedisServer starts.
    """

    def __init__(self, workers: int = 1, worker_args: Sequence[str] = (), **overrides: Any) -> None:
        self.workers = workers
        self.worker_args = list(worker_args)
        self.overrides = overrides
        self._stack = ExitStack()
        self.embedded: Embedded | None = None
        self.client: Client | None = None
        self.server: RedisServer | None = None

    def __enter__(self) -> Deployment:
        try:
            if "redis_url" not in self.overrides:
                self.server = self._stack.enter_context(RedisServer())
            settings = Settings(
                embedded_workers=self.workers,
                **{
                    "agent_modules": AGENT_MODULES,
                    "redis_url": self.server.url if self.server else None,
                    **self.overrides,
                },
            )
            self.embedded = Embedded(settings, worker_args=self.worker_args)
            live = self._stack.enter_context(self.embedded)
            self.client = self._stack.enter_context(Client(live))
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def sdk(self) -> Client:
        if self.client is None:
            raise RuntimeError("the deployment is not started: use `with Deployment(...)`")
        return self.client

    def redis_pid(self) -> int:
        if self.server is None or self.server.process is None:
            raise RuntimeError("the deployment is not started: use `with Deployment(...)`")
        return self.server.process.pid

    def worker_pids(self) -> list[int]:
        if self.embedded is None:
            return []
        return [process.pid for process in self.embedded.workers]

    def submit(self, plan: Mapping[str, Any]) -> JobHandle:
        return self.sdk.submit(plan)

    def run(self, plan: Mapping[str, Any]) -> JobResult:
        """Submit ``plan``, wait for its result, and insist that it succeeded."""
        return check(self.submit(plan).wait(timeout=JOB_TIMEOUT))


def check(result: JobResult) -> JobResult:
    """``result`` if every step succeeded; else raise ``BenchmarkError`` saying why."""
    bad = {sid: step.status for sid, step in result.steps.items() if step.status != "succeeded"}
    if result.status != "succeeded" or bad:
        raise BenchmarkError(
            f"job {result.job_id} ended {result.status} ({result.error or 'no error'}); "
            f"steps not succeeded: {dict(list(bad.items())[:5])}"
        )
    return result


def events(handle: JobHandle) -> list[Event]:
    """Every event the job recorded, oldest first (the stream's order is Redis's order)."""
    return list(handle.events(follow=False))


def max_running(job_events: Sequence[Event]) -> int:
    """The most steps that were running at once, replayed from the event stream."""
    running = peak = 0
    for event in job_events:
        if event.type == "step_started":
            running += 1
            peak = max(peak, running)
        elif event.type in ("step_succeeded", "step_failed", "step_retrying"):
            running -= 1
    return peak


def last_start(job_events: Sequence[Event]) -> float:
    """Seconds from job_submitted to the last step_started, on Redis's clock.

    Close to the wall time means steps were still being dispatched at the end.
    """
    submitted = min(e.at.timestamp() for e in job_events if e.type == "job_submitted")
    return max(e.at.timestamp() for e in job_events if e.type == "step_started") - submitted


def timed(deployment: Deployment, plan: Mapping[str, Any]) -> tuple[float, JobHandle]:
    """Seconds from submit to result through the SDK, and the job's handle."""
    start = time.perf_counter()
    handle = deployment.submit(plan)
    check(handle.wait(timeout=JOB_TIMEOUT))
    return time.perf_counter() - start, handle


@contextlib.contextmanager
def model_endpoint(delay: float) -> Iterator[LLMServer]:
    """The test server answering every call after ``delay`` seconds, named in the
    environment that worker processes started meanwhile inherit; restored after."""
    saved = {name: os.environ.get(name) for name in ENDPOINT_VARIABLES}
    with LLMServer(default=Reply("ok", delay=delay)) as server:
        os.environ.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="test")
        try:
            yield server
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
