"""Running a deployment's work in this process, without a broker or worker processes.

``InlineWorker`` takes what the engine published to a ``RecordingDispatcher`` and runs
it here, as the Celery tasks would on workers: plan tasks start their jobs, step
messages go through the real ``StepRunner`` (claim, resolve, run, score, complete) and
finalize tasks finalize. The store is the real one, on a real Redis. It is the inline
double of the transport, for tests of the engine, the sweeper and an agent's steps that
need no processes::

    dispatcher = RecordingDispatcher()
    runtime = Runtime.build(settings, registry, dispatcher=dispatcher)
    job_id = runtime.engine.submit(plan)
    InlineWorker(runtime, registry, dispatcher).drain()
    runtime.store.result(job_id)   # succeeded, with every step's output and scores
"""

from __future__ import annotations

from agents.registry import Registry
from orchestrator.runtime import Runtime
from orchestrator.transport.dispatch import RecordingDispatcher
from workers.step import StepRunner

WORKER = "inline"


class InlineWorker:
    def __init__(
        self, runtime: Runtime, registry: Registry, dispatcher: RecordingDispatcher
    ) -> None:
        self.runtime = runtime
        self.dispatcher = dispatcher
        self.runner = StepRunner(runtime, registry)

    def drain(self, limit: int = 10_000) -> int:
        """Run what was published, and what that publishes, until nothing is left; return
        how many messages ran. ``limit`` stops a plan that never ends."""
        ran = 0
        sent = self.dispatcher
        while sent.plans or sent.steps or sent.finalizes:
            if ran >= limit:
                raise RuntimeError(f"still publishing after {limit} messages")
            if sent.plans:
                self.runtime.engine.start(sent.plans.pop(0))
            elif sent.steps:
                message = sent.steps.pop(0)
                self.runner.run(
                    message.job_id, message.step_id, message.dispatch, message.agent, WORKER
                )
            else:
                self.runtime.engine.finalize(sent.finalizes.pop(0))
            ran += 1
        return ran

    def close(self) -> None:
        if self.runner.model is not None:
            self.runner.model.close()
