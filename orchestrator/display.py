"""What the CLI shows: live progress of a job, and its result."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestrator.client import JobHandle
from orchestrator.models import TERMINAL_STEP, JobResult

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


def follow(handle: JobHandle, console: Console, timeout: float | None = None) -> JobResult:
    """Show one progress bar per step until the job ends; return its result."""
    snapshot = handle.result()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bars: dict[str, TaskID] = {
            step_id: progress.add_task(
                f"{step_id} [dim]({step.agent})[/]", total=1.0, state=step.status, start=False
            )
            for step_id, step in snapshot.steps.items()
        }
        for event in handle.events(timeout=timeout):
            bar = bars.get(event.step_id or "")
            if bar is None:
                continue
            state = _STEP_STATE.get(event.type)
            if event.type == "step_started":
                progress.start_task(bar)
            if event.type == "step_progress":
                fraction = event.data.get("fraction")
                message = event.data.get("message") or "running"
                progress.update(bar, state=message)
                if fraction is not None:
                    progress.update(bar, completed=float(fraction))
            elif state is not None:
                done = state in TERMINAL_STEP
                progress.update(bar, state=f"[{_STYLE.get(state, '')}]{state}[/]")
                if done:
                    progress.update(bar, completed=1.0)
                    progress.stop_task(bar)
    return handle.result()


def render_result(result: JobResult, console: Console) -> None:
    table = Table(title=f"job {result.job_id}: [{_STYLE[result.status]}]{result.status}[/]")
    for column in ("step", "agent", "status", "attempts", "seconds", "worker / error"):
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
            step.error or step.worker or "",
        )
    console.print(table)
    if result.error:
        console.print(f"[red]error:[/] {result.error}")
    console.print("answer:", style="bold")
    if result.answer is None:
        console.print("(none)")
    else:
        console.print_json(json.dumps(result.answer))


def result_json(result: JobResult) -> str:
    return result.model_dump_json(indent=2, exclude={"steps": {"__all__": {"progress", "message"}}})


def status_line(result: JobResult) -> str:
    counts: dict[str, int] = {}
    for step in result.steps.values():
        counts[step.status] = counts.get(step.status, 0) + 1
    parts: list[Any] = [f"{n} {status}" for status, n in sorted(counts.items())]
    return f"{result.job_id} {result.status} ({', '.join(parts)})"
