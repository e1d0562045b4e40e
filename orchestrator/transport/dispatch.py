"""What the engine publishes through: the ``Dispatcher`` protocol, and a recording double.

``CeleryDispatcher`` (``transport.celery_app``) publishes Celery task messages;
``RecordingDispatcher`` keeps them in lists instead, so that the engine, the sweeper
and a step's run can be tested without a broker or a worker, as dramatiq's StubBroker
lets its users test actors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.store.records import StepMessage

# Steps go out in at least this many messages where there are as many: enough for every
# worker of a type to get its share, or a prefork worker's every child.
SPREAD = 16


class Dispatcher(Protocol):
    """Publishes celeriac's task messages."""

    def send_steps(self, messages: Sequence[StepMessage], *, together: bool = True) -> None:
        """Publish ``messages``; ``together``: several steps of a job may share a message."""
        ...

    def send_plan(self, job_id: str) -> None: ...
    def send_finalize(self, job_id: str) -> None: ...


@dataclass
class RecordingDispatcher:
    """A ``Dispatcher`` that publishes nothing and remembers everything, in order."""

    steps: list[StepMessage] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    finalizes: list[str] = field(default_factory=list)

    def send_steps(self, messages: Sequence[StepMessage], *, together: bool = True) -> None:
        self.steps.extend(messages)

    def send_plan(self, job_id: str) -> None:
        self.plans.append(job_id)

    def send_finalize(self, job_id: str) -> None:
        self.finalizes.append(job_id)

    def take_steps(self) -> list[StepMessage]:
        """The step messages sent since the last take, oldest first."""
        taken, self.steps = self.steps, []
        return taken


def batches(messages: Sequence[StepMessage], most: int) -> list[list[StepMessage]]:
    """``messages`` in the groups that share a broker message: steps of one job and agent
    type, at most ``most`` together, and split in ``SPREAD`` groups where there are as
    many steps (16 or fewer ready at once go one a message). In the order given."""
    alike: dict[tuple[str, str], list[StepMessage]] = {}
    for message in messages:
        alike.setdefault((message.job_id, message.agent), []).append(message)
    grouped = []
    for steps in alike.values():
        size = max(1, min(most, math.ceil(len(steps) / SPREAD)))
        grouped += [steps[start : start + size] for start in range(0, len(steps), size)]
    return grouped
