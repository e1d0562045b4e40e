"""How an evaluation's items run, and what it says of the ones that failed.

``deployment`` is where they run; translation lines go in ``even_batches``. Every item
is a job; ``run_jobs`` submits them (at most ``in_flight`` at a time) and
waits for each. An item fails when its job could not be submitted or its step has no
output; ``Failures`` keeps how many failed and why (the first message of each kind, with
a count), and ``Over`` chooses what the metrics are computed over: every item, a failed
one counting as an empty answer, scoring zero (the default: an agent cannot score well
by failing the hard items), or only the items that succeeded.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from orchestrator.client import Client, JobHandle
from orchestrator.embedded import early
from orchestrator.embedded.deployment import Embedded
from orchestrator.errors import EvaluationFailed, UserError
from orchestrator.llm import resolve_backend
from orchestrator.models import JobResult, Plan
from orchestrator.settings import Settings

Over = Literal["all", "succeeded"]
T = TypeVar("T")
# What varies between two errors of one kind: quoted values, long hex ids, numbers.
_VARYING = re.compile(r"'[^']*'|\"[^\"]*\"|\b[0-9a-f]{12,}\b|\d+(?:[.,]\d+)*")


@dataclass
class Failures:
    """Items that failed, and why: the first message of each kind, with a count."""

    count: int = 0
    kinds: dict[str, list[Any]] = field(default_factory=dict)  # kind -> [first, count]

    def add(self, error: str, items: int = 1) -> None:
        self.count += items
        kind = _VARYING.sub("#", error)
        self.kinds.setdefault(kind, [error, 0])[1] += items

    def reasons(self) -> list[dict[str, Any]]:
        """``[{"count": 12, "error": "..."}]``, the most frequent first."""
        ranked = sorted(self.kinds.values(), key=lambda kind: -kind[1])
        return [{"count": count, "error": first} for first, count in ranked]

    def summary(self) -> str:
        """``'(12) the first error of a kind; (3) another'``."""
        return "; ".join(f"({r['count']}) {r['error']}" for r in self.reasons())

    def require_some(self, items: int, noun: str) -> None:
        """Raise ``EvaluationFailed`` with the reasons when every one of ``items`` failed."""
        if items and self.count >= items:
            raise EvaluationFailed(
                f"all {items} {noun} failed, so there is nothing to measure: {self.summary()}"
            )


def scored(values: Sequence[T], ok: Sequence[bool], over: Over) -> list[T]:
    """The values the metrics are computed over: all of them, or the succeeded ones'."""
    return [v for v, good in zip(values, ok, strict=True) if good or over == "all"]


def describe_over(items: int, failed: int, over: Over) -> str:
    """Which items the metrics are computed over, in words."""
    if not failed:
        return f"all {items} items"
    if over == "all":
        return f"all {items} items, the {failed} that failed counting as empty answers (zero)"
    return f"the {items - failed} items that succeeded ({failed} failed, left out)"


@contextlib.contextmanager
def deployment(settings: Settings, task: str, check: Plan | None = None) -> Iterator[Settings]:
    """The deployment at CELERIAC_REDIS_URL, else one of this process's own, shaped for
    the evaluation ``task`` (its agent types, no steps' scores); offline, that ``check``
    can run there is known before its workers start."""
    if settings.redis_url:
        yield settings
        return
    if check is not None and resolve_backend(settings) == "offline":
        from agents.registry import load_registry
        from orchestrator.planning.readiness import unready_here

        problem = unready_here(check, load_registry(settings.agent_modules))
        if problem is not None:
            raise problem
    with Embedded(settings, shape=early.EVALS[task]) as live:
        yield live


def even_batches(lines: Sequence[str], chars: int) -> list[list[str]]:
    """Consecutive lines in as few batches of about ``chars`` characters as there can be,
    all about the same size; a line longer than that goes alone."""
    total = sum(map(len, lines))
    share = total / max(1, math.ceil(total / chars))
    out: list[list[str]] = []
    done, current = 0, -1  # characters before the line; the share the last batch began in
    for line in lines:
        began = int(done // share) if share else 0
        if began != current or len(line) > share:
            out.append([])
            current = began
        out[-1].append(line)
        done += len(line)
    return out


Ran = JobResult | str  # a job's result, or why it could not be submitted


def run_jobs(
    client: Client,
    plans: Sequence[Plan],
    console: Console,
    label: str,
    *,
    in_flight: int | None = None,
) -> list[Ran]:
    """Submit the plans (keeping at most ``in_flight`` jobs running; None: all at once)
    and wait for each, showing how many have ended. A plan the deployment refuses is
    that item's failure, not the evaluation's."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    results: list[Ran] = [""] * len(plans)
    running: deque[tuple[int, JobHandle]] = deque()
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task(f"running {label}", total=len(plans))

        def finish_oldest() -> None:
            index, handle = running.popleft()
            results[index] = handle.wait()
            progress.advance(bar)

        for index, plan in enumerate(plans):
            if in_flight is not None and len(running) >= in_flight:
                finish_oldest()
            try:
                running.append((index, client.submit(plan)))
            except UserError as exc:
                results[index] = f"not submitted: {exc}"
                progress.advance(bar)
        while running:
            finish_oldest()
    return results


def step_output(ran: Ran, step_id: str) -> tuple[dict[str, Any] | None, str]:
    """The step's output (None if it has none) and, when it has none, why."""
    if isinstance(ran, str):
        return None, ran
    step = ran.steps.get(step_id)
    if step is not None and step.status == "succeeded" and isinstance(step.output, dict):
        return step.output, ""
    if step is not None and step.error and step.status != "skipped":
        return None, step.error
    # Skipped (or never planned): the reason is the step that failed before it.
    failed = [f"{name}: {s.error}" for name, s in ran.steps.items() if s.status == "failed"]
    if failed:
        return None, failed[0]
    if step is not None and step.error:
        return None, step.error
    if step is not None and step.status != "succeeded":
        return None, ran.error or f"step {step_id} was {step.status}"
    return None, ran.error or f"the job ended {ran.status} without an output of {step_id}"


@dataclass
class Report:
    """What an evaluation measured: metrics, per-item values for plots, counts, and why
    the items that failed did."""

    task: str
    metrics: dict[str, float]
    items: int
    failures: Failures = field(default_factory=Failures)
    over: Over = "all"
    details: dict[str, Any] = field(default_factory=dict)
    per_item: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return self.failures.count

    @property
    def scored_items(self) -> int:
        return self.items - (self.failed if self.over == "succeeded" else 0)

    def over_text(self) -> str:
        return describe_over(self.items, self.failed, self.over)

    def as_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metrics": {name: round(value, 4) for name, value in self.metrics.items()},
            "items": self.items,
            "failed": self.failed,
            "errors": self.failures.reasons(),
            "metrics_over": self.over,
            "scored_items": self.scored_items,
            "seconds": round(self.seconds, 2),
            **self.details,
        }
