"""celeriac's Celery tasks: thin wrappers over the step runner and the engine."""

from __future__ import annotations

from typing import Any

from celery import Celery

from orchestrator import names
from orchestrator.runtime import Runtime
from workers.step import StepRunner


def register_tasks(app: Celery, runtime: Runtime, runner: StepRunner) -> None:
    """Define the tasks on ``app``; they are published by name (see CeleryDispatcher)."""

    @app.task(name=names.TASK_RUN_STEP, bind=True)
    def run_step(self: Any, job_id: str, step_id: str, dispatch: int, agent: str) -> str:
        return runner.run(job_id, step_id, dispatch, agent, worker=str(self.request.hostname))

    @app.task(name=names.TASK_PLAN)
    def plan(job_id: str) -> None:
        runtime.engine.start(job_id)

    @app.task(name=names.TASK_FINALIZE)
    def finalize(job_id: str) -> None:
        runtime.engine.finalize(job_id)

    @app.task(name=names.TASK_SWEEP)
    def sweep() -> dict[str, int]:
        report = runtime.engine.sweep()
        return {"expired": report.expired, "resent": report.resent, "rewatched": report.rewatched}
