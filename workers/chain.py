"""A worker runs a dependent step it has just made ready itself: no broker hop.

When a step's completion makes dependents ready, one whose agent type this worker serves
runs next in the same thread, at once; the others are published as usual, for any worker.
A chain of steps then costs one store round trip a step, not a publish, a delivery
and a hand-over to a pool thread (~2 ms a step, `python -m benchmarks throughput`).

The script that completes a step claims that dependent for this worker in the same call
(``Store.complete``'s ``chain``). Nothing is lost that a broker would have kept: the
claimed step holds a lease, as a step started from a message does, and if this worker
dies the sweeper requeues it when the lease runs out. A worker that is shutting down
runs nothing more this way.

Flower still shows each step as a task named after its agent: the worker's own event
dispatcher sends a step run this way its received, started and succeeded events, under
a task id of its own whose parent is the task that ran before it. The prefork pool runs
steps in child processes, away from that dispatcher: there every step is published.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from celery.worker import state as worker_state

from orchestrator.store.records import Claim, StepMessage

log = logging.getLogger(__name__)

# A ready dependent and its claim, taken when the step before it completed.
Chained = tuple[StepMessage, Claim]


def stopping() -> bool:
    """Whether this worker is shutting down (Celery's signal handler sets ``should_stop``,
    0 among its values, or ``should_terminate`` in the process the threads pool runs in)."""
    flags = (worker_state.should_stop, worker_state.should_terminate)
    return any(flag is not None and flag is not False for flag in flags)


class Chaining:
    """Which ready steps this worker runs itself, and their task events for Flower."""

    def __init__(self, served: Sequence[str], signalled: Callable[[], bool] = bool) -> None:
        self.served = frozenset(served)
        # Whether a signal has landed that Celery's handler has not yet turned into a flag
        # (``ShutdownWaker.signalled``): a SIGTERM just before a step ends must not let
        # this thread run one more step, as the event loop would not have delivered one.
        self.signalled = signalled
        self.events: Any = None  # the consumer's event dispatcher, once the worker is ready

    def ready(self, sender: Any = None, **_: Any) -> None:
        """``worker_ready``'s receiver: its sender is the consumer."""
        self.events = getattr(sender, "event_dispatcher", None)

    def agents(self) -> frozenset[str]:
        """The agent types of which a ready dependent runs here next: none when stopping."""
        return frozenset() if stopping() or self.signalled() else self.served

    def shown(self, message: StepMessage, parent: str) -> Shown:
        return Shown(self.events, message, parent)


class Shown:
    """A step run by ``Chaining`` as Flower sees it: a task with the step's arguments."""

    def __init__(self, events: Any, message: StepMessage, parent: str) -> None:
        self.events = events if events is not None and events.enabled else None
        self.id = str(uuid.uuid4())
        self.started = time.monotonic()
        kwargs = {
            "job_id": message.job_id,
            "step_id": message.step_id,
            "dispatch": message.dispatch,
            "agent": message.agent,
        }
        self._send(
            "task-received",
            name=message.agent,
            args="()",
            kwargs=repr(kwargs),
            root_id=parent or self.id,
            parent_id=parent or None,
            retries=0,
            eta=None,
            expires=None,
        )
        self._send("task-started")

    def progress(self, fraction: float | None, message: str) -> None:
        meta = {"fraction": fraction, "message": message}
        self._send("task-progress", result=meta, **meta)

    def succeeded(self, said: str) -> None:
        self._send("task-succeeded", result=repr(said), runtime=time.monotonic() - self.started)

    def failed(self, exc: BaseException) -> None:
        self._send("task-failed", exception=repr(exc), traceback="")

    def _send(self, type_: str, **fields: Any) -> None:
        if self.events is None:
            return
        try:
            self.events.send(type_, uuid=self.id, **fields)
        except Exception:  # a dashboard's event is never worth a step
            log.debug("could not send a %s event", type_, exc_info=True)
