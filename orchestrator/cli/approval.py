"""The approval commands: approve, reject, and the question ``run`` and ``watch`` ask."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orchestrator.cli.common import errors_to_exit_codes, out
from orchestrator.client import Client, JobHandle
from orchestrator.errors import NotAwaitingApproval
from orchestrator.models import JobResult
from orchestrator.plans import load_plan_file
from orchestrator.settings import read_settings

JobArg = Annotated[str, typer.Argument(help="Job id.", show_default=False)]
StepOption = Annotated[
    str | None,
    typer.Option(
        "--step", help="The step awaiting approval (else the job's plan).", show_default=False
    ),
]


@errors_to_exit_codes
def approve(
    job_id: JobArg,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Run this plan JSON instead (validated).", show_default=False),
    ] = None,
    step: StepOption = None,
) -> None:
    """Approve the plan (or --step) a job awaits approval of; print the job's status."""
    settings = read_settings()
    raw = load_plan_file(plan, max_bytes=settings.max_plan_bytes) if plan is not None else None
    with Client(settings) as client:
        status = client.get(job_id).approve(raw, step=step)
    out.print(f"{job_id} {status}", highlight=False)


@errors_to_exit_codes
def reject(
    job_id: JobArg,
    reason: Annotated[str, typer.Option(help="Why: shown to whoever follows the job.")],
    step: StepOption = None,
) -> None:
    """Reject what a job (or its --step) awaits approval of: the job ends rejected, or the
    step fails with the reason; print the job's status."""
    with Client(read_settings()) as client:
        status = client.get(job_id).reject(reason, step=step)
    out.print(f"{job_id} {status}", highlight=False)


def ask(handle: JobHandle, result: JobResult, console: Console) -> None:
    """At a terminal, ask the person following the job what they say to its wait; else
    leave the answer to ``celeriac approve`` / ``reject`` (shown already)."""
    if not sys.stdin.isatty():
        return
    waiting = [sid for sid, step in result.steps.items() if step.status == "awaiting_approval"]
    step = None if result.awaiting is not None else (waiting[0] if waiting else None)
    what = "the plan" if step is None else f"step {step!r}"
    try:
        if typer.confirm(f"approve {what}?", default=False):
            handle.approve(step=step)
        elif reason := typer.prompt("reject it? the reason (empty: leave it waiting)", default=""):
            handle.reject(reason, step=step)
    except NotAwaitingApproval as exc:  # someone else answered first
        console.print(str(exc), highlight=False)
