"""What the CLI shows: live progress of a job, and its result."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestrator.client import JobHandle
from orchestrator.models import TERMINAL_STEP, Event, JobResult, Score
from orchestrator.plans import dependencies

_STYLE = {
    "succeeded": "green",
    "partial": "yellow",
    "failed": "red",
    "skipped": "dim",
    "cancelled": "magenta",
    "running": "cyan",
    "queued": "blue",
    "waiting": "dim",
    "pending": "dim",
    "awaiting_approval": "bold yellow",
    "rejected": "red",
    "expired": "red",
}
_STEP_STATE = {
    "step_queued": "queued",
    "step_started": "running",
    "step_succeeded": "succeeded",
    "step_failed": "failed",
    "step_skipped": "skipped",
    "step_cancelled": "cancelled",
    "step_retrying": "retrying",
}


class _Bars:
    """The progress bars of one job: a bar per step, and one for planning a goal."""

    def __init__(self, progress: Progress, snapshot: JobResult) -> None:
        self.progress = progress
        self.steps: dict[str, TaskID] = {}
        self.planning: TaskID | None = None
        if snapshot.plan is None and not snapshot.done:
            self.planning = progress.add_task("planning the goal", total=1.0, state="planning")
        self.add(snapshot)

    def add(self, result: JobResult) -> None:
        for step_id, step in result.steps.items():
            if step_id not in self.steps:
                self.steps[step_id] = self.progress.add_task(
                    f"{step_id} [dim]({step.agent})[/]", total=1.0, state=step.status, start=False
                )

    def planned(self, state: str) -> None:
        if self.planning is not None:
            self.progress.update(self.planning, completed=1.0, state=state)
            self.progress.stop_task(self.planning)
            self.planning = None

    def show(self, event: Event) -> None:
        bar = self.steps.get(event.step_id or "")
        if bar is None:
            return
        state = _STEP_STATE.get(event.type)
        if event.type == "step_started":
            self.progress.start_task(bar)
        if event.type == "step_progress":
            fraction = event.data.get("fraction")
            self.progress.update(bar, state=event.data.get("message") or "running")
            if fraction is not None:
                self.progress.update(bar, completed=float(fraction))
        elif state is not None:
            self.progress.update(bar, state=f"[{_STYLE.get(state, '')}]{state}[/]")
            if state in TERMINAL_STEP:
                self.progress.update(bar, completed=1.0)
                self.progress.stop_task(bar)


Asker = Callable[[JobHandle, JobResult, Console], None]  # a person's answer to a wait


def follow(
    handle: JobHandle, console: Console, timeout: float | None = None, ask: Asker | None = None
) -> JobResult:
    """Show one progress bar per step until the job ends; return its result. When the job
    (or a step) comes to await approval, show what awaits it and ``ask`` (if given)."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bars = _Bars(progress, handle.result())
        for event in handle.events(timeout=timeout):
            if event.type in ("job_planned", "job_replanned"):
                bars.planned(f"[green]planned[/] {event.data.get('planner', '')}")
                bars.add(handle.result())
            elif event.type == "job_finished":  # before a plan: planning failed, or a cancel
                bars.planned(f"[red]{event.data.get('status', 'ended')}[/]")
            elif event.type in ("job_awaiting_approval", "step_awaiting_approval"):
                bars.planned("[bold yellow]awaiting approval[/]")
                bars.add(handle.result())
                _awaiting(handle, progress, ask)
            bars.show(event)
    return handle.result()


def _awaiting(handle: JobHandle, progress: Progress, ask: Asker | None) -> None:
    """Show what awaits approval (and ask) with the bars stopped, then go on following."""
    result = handle.result()
    if result.status != "awaiting_approval" and not _waiting_steps(result):
        return  # answered already
    progress.stop()
    render_awaiting(result, progress.console)
    if ask is not None:
        ask(handle, result, progress.console)
    progress.start()


def _waiting_steps(result: JobResult) -> list[str]:
    return [sid for sid, step in result.steps.items() if step.status == "awaiting_approval"]


def render_awaiting(result: JobResult, console: Console) -> None:
    """What the job waits for a person to approve, and how to answer."""
    job = result.job_id
    awaiting = result.awaiting
    if awaiting is not None:
        what = "its plan" if awaiting.what == "plan" else f"new steps {', '.join(awaiting.new)}"
        console.print(f"job {job} awaits approval of {what}:", highlight=False)
        console.print_json(awaiting.plan.model_dump_json(exclude_defaults=True))
        console.print(
            f"until {awaiting.until:%Y-%m-%d %H:%M:%S} UTC: `celeriac approve {job} "
            f"[--plan FILE]` or `celeriac reject {job} --reason ...`",
            highlight=False,
        )
    for step_id in _waiting_steps(result):
        console.print(f"step {step_id!r} awaits approval, with this input:", highlight=False)
        console.print_json(json.dumps(result.steps[step_id].approval_input))
        console.print(
            f"`celeriac approve {job} --step {step_id}` or "
            f"`celeriac reject {job} --step {step_id} --reason ...`",
            highlight=False,
        )


def render_plan(result: JobResult, console: Console) -> None:
    """The job's goal and plan: a row per step with what it waits for and its state."""
    if result.goal:
        console.print(f"goal: {escape(result.goal)}", highlight=False)
    if result.plan is None:
        console.print("plan: (not made yet)" if not result.done else "plan: (none)")
        return
    title = f"plan by {result.planner}" if result.planner else "plan"
    if result.plan.answer_from:
        title += f", answer from {result.plan.answer_from}"
    table = Table(title=title)
    for column in ("step", "agent", "waits for", "status"):
        table.add_column(column)
    for step in result.plan.steps:
        state = result.steps[step.id].status if step.id in result.steps else "waiting"
        table.add_row(
            step.id,
            step.agent,
            ", ".join(sorted(dependencies(step))),
            f"[{_STYLE.get(state, '')}]{state}[/]",
        )
    console.print(table)
    for replan in result.replans:
        console.print(
            f"replanned after {replan.failed_step!r} failed ({escape(replan.error)}): "
            f"{', '.join(replan.added)} in place of {', '.join(replan.replaced)}",
            highlight=False,
        )


def render_result(result: JobResult, console: Console) -> None:
    if result.goal:
        console.print(f"goal: {escape(result.goal)}", highlight=False)
    heading = f"job {result.job_id}: [{_STYLE[result.status]}]{result.status}[/]"
    if result.score is not None:
        heading += f", score {result.score:.2f}"
    if not result.steps:
        console.print(heading)
    table = Table(title=heading)
    for column in ("step", "agent", "status", "attempts", "seconds", "score", "worker / error"):
        table.add_column(column)
    for step_id, step in result.steps.items():
        seconds = ""
        if step.started_at and step.finished_at:
            seconds = f"{(step.finished_at - step.started_at).total_seconds():.2f}"
        table.add_row(
            step_id,
            step.agent,
            f"[{_STYLE.get(step.status, '')}]{step.status}[/]",
            str(step.attempts),
            seconds,
            _main_score(step.scores),
            step.error or step.worker or "",
        )
    if result.steps:
        console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    console.print("answer:", style="bold")
    if result.answer is None:
        console.print("(none)")
    else:
        console.print_json(json.dumps(result.answer))


def _main_score(scores: list[Score]) -> str:
    if not scores:
        return ""
    main = scores[0]
    return f"{main.name} {main.value:.2f}" + (" (proxy)" if main.proxy else "")


def result_json(result: JobResult) -> str:
    return result.model_dump_json(indent=2, exclude={"steps": {"__all__": {"progress", "message"}}})


def status_line(result: JobResult) -> str:
    counts: dict[str, int] = {}
    for step in result.steps.values():
        counts[step.status] = counts.get(step.status, 0) + 1
    parts: list[Any] = [f"{n} {status}" for status, n in sorted(counts.items())]
    return f"{result.job_id} {result.status} ({', '.join(parts)})"
