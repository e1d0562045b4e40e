"""What the engine publishes through: the ``Dispatcher`` protocol, and a recording double.

``CeleryDispatcher`` (``transport.celery_app``) publishes Celery task messages;
``RecordingDispatcher`` keeps them in lists instead, so that the engine, the sweeper
and a step's run can be tested without a broker or a worker, as dramatiq's StubBroker
lets its users test actors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.store.records import StepMessage


class Dispatcher(Protocol):
    """Publishes celeriac's task messages."""

    def send_steps(self, messages: Sequence[StepMessage]) -> None: ...
    def send_plan(self, job_id: str) -> None: ...
    def send_finalize(self, job_id: str) -> None: ...


@dataclass
class RecordingDispatcher:
    """A ``Dispatcher`` that publishes nothing and remembers everything, in order."""

    steps: list[StepMessage] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    finalizes: list[str] = field(default_factory=list)

    def send_steps(self, messages: Sequence[StepMessage]) -> None:
        self.steps.extend(messages)

    def send_plan(self, job_id: str) -> None:
        self.plans.append(job_id)

    def send_finalize(self, job_id: str) -> None:
        self.finalizes.append(job_id)

    def take_steps(self) -> list[StepMessage]:
        """The step messages sent since the last take, oldest first."""
        taken, self.steps = self.steps, []
        return taken
