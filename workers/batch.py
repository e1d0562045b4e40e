"""A message that carries several ready steps: run them side by side.

Where many steps of one job and agent type become ready at once (a fan-out's middle, a
job's first steps), the dispatcher puts up to ``CELERIAC_STEPS_PER_MESSAGE`` of them in
one broker message (``transport.dispatch.batches``): its first step is the task, the
others ride in its ``more`` argument. A thousand steps then cost the broker and the
worker's consumer 32 deliveries, not a thousand.

On the threads pool the carried steps run in threads of their own while the first runs
in the task's; the task returns, and the message is acknowledged, once all have ended.
The worker's concurrency still bounds the steps running at once, in the task's threads
and these together (a thread waiting for its message's other steps runs none). Each is
claimed on its own, as a step of a message of its own is, so nothing is lost that one
message a step would have kept: a carried step holds a lease once it is claimed, and
until then its outbox entry stands (a worker that dies with the message takes nothing
the sweeper cannot send again). In Flower each is a task of its own, a child of the
message's (``workers.chain.Shown``).

The solo pool runs them one after another, as it runs everything. A prefork worker
publishes them again, one a message: its steps run in child processes, one a child,
away from the event dispatcher that would show them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait

from orchestrator.store.records import StepMessage
from workers.step import StepRunner

log = logging.getLogger(__name__)


class Carried:
    """Runs the steps a message carries beside its first, for one worker."""

    def __init__(self, runner: StepRunner, pool: str, concurrency: int) -> None:
        self.runner = runner
        self.republish = pool == "prefork"  # see the module's docstring
        self.slots = threading.BoundedSemaphore(concurrency)  # steps running at once
        self.threads = (
            ThreadPoolExecutor(concurrency, thread_name_prefix="celeriac-step")
            if pool == "threads"
            else None
        )

    def run(
        self,
        first: Callable[[], str],
        carried: Sequence[StepMessage],
        worker: str,
        trace: str,
        task_id: str,
    ) -> str:
        """Run ``first`` (the message's own step) and ``carried``; return what ``first`` said."""
        if self.threads is None:  # one step at a time: solo, or a prefork child
            if self.republish and carried:
                self.runner.runtime.engine.dispatcher.send_steps(carried, together=False)
                carried = ()
            said = first()
            for message in carried:
                self._one(message, worker, trace, task_id)
            return said
        running = [
            self.threads.submit(self._one, message, worker, trace, task_id) for message in carried
        ]
        try:
            with self.slots:
                return first()
        finally:
            wait(running)

    def _one(self, message: StepMessage, worker: str, trace: str, parent: str) -> None:
        try:
            with self.slots:
                said = self.runner.run_carried(message, worker, trace, parent)
        except Exception:  # as Celery logs a task that raised; the step's lease runs out
            log.exception("step %s/%s (%s) raised", message.job_id, message.step_id, message.agent)
            return
        log.debug("step %s/%s: %s", message.job_id, message.step_id, said)
