"""celeriac's Celery tasks: thin wrappers over the step runner and the engine.

A worker in warm shutdown finishes what it runs and starts nothing new: a message that
reaches it after the shutdown began goes back to its queue for another worker. Celery
stops consuming only at its event loop's next turn, and a SIGTERM does not wake the loop:
the delivery that does is handled in that same turn, before the shutdown is noticed (on
RabbitMQ, a step that became ready as the running one ended reached the stopping worker
that way every time).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.exceptions import Reject

from orchestrator import names, tracing
from orchestrator.runtime import Runtime
from orchestrator.store.records import StepMessage
from workers.batch import Carried
from workers.chain import stopping
from workers.step import StepRunner

log = logging.getLogger(__name__)


def register_tasks(app: Celery, runtime: Runtime, runner: StepRunner, carried: Carried) -> None:
    """Define the tasks on ``app``; they are published by name (see CeleryDispatcher)."""

    @app.task(name=names.TASK_RUN_STEP, bind=True)
    def run_step(
        self: Any,
        job_id: str,
        step_id: str,
        dispatch: int,
        agent: str,
        trace_id: str = "",
        more: list[tuple[str, int]] | None = None,
    ) -> str:
        # trace_id: for Flower's eyes (the headers carry the trace context); more: [step id,
        # dispatch] of the job's other steps of this type the message carries (workers.batch)
        refuse_when_stopping()
        worker = str(self.request.hostname)
        # The job's W3C traceparent, in the message's headers when it is traced.
        traceparent = str(self.request.get(tracing.HEADER) or "")
        task_id = str(self.request.id or "")
        return carried.run(
            lambda: runner.run(
                job_id,
                step_id,
                dispatch,
                agent,
                worker=worker,
                on_progress=progress_of(self),
                trace=traceparent,
                task_id=task_id,
            ),
            [StepMessage(job_id, step, int(number), agent, "") for step, number in more or ()],
            worker,
            traceparent,
            task_id,
        )

    @app.task(name=names.TASK_PLAN)
    def plan(job_id: str) -> None:
        refuse_when_stopping()
        runtime.engine.start(job_id)

    @app.task(name=names.TASK_FINALIZE)
    def finalize(job_id: str) -> None:
        refuse_when_stopping()
        runtime.engine.finalize(job_id)

    @app.task(name=names.TASK_SWEEP)
    def sweep() -> dict[str, int]:
        return dataclasses.asdict(runtime.sweeper.sweep())


def progress_of(task: Any) -> Callable[[float | None, str], None]:
    """A step's progress reports as the running ``task``'s custom state: Flower shows the
    task as PROGRESS, and, as Celery's update_state(meta=...) would, the progress as its
    result."""

    def progress(fraction: float | None, message: str) -> None:
        meta = {"fraction": fraction, "message": message}
        try:
            task.send_event("task-progress", result=meta, **meta)
        except Exception:  # a dashboard's event is never worth a step
            log.debug("could not send a progress event", exc_info=True)

    return progress


def refuse_when_stopping() -> None:
    """Give the message back to its queue (a ``Reject``) if this worker is shutting down."""
    if stopping():
        raise Reject("this worker is shutting down", requeue=True)
