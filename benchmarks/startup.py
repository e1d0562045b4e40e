"""Startup: ``celeriac run --plan`` of a one-step plan in embedded mode, command to result.

The command runs as a child process with no ``CELERIAC_*`` (and no ``OPENAI_*``)
variables, so it starts its own Redis and worker, runs the plan's one offline
``generation`` step, stops everything and prints the result as JSON. The time
is split with the result's own timestamps (Redis's clock, the machine's):
to submit = command to the job's created_at (imports, Redis, the worker
starting up); job = created_at to finished_at; stop and exit = the rest (the
worker and Redis stopped, the JSON printed). The import times are separate
``python -c "import ..."`` runs: the interpreter alone, the CLI, and what a
worker process imports before Celery starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.deployment import BenchmarkError, check, repo_root
from benchmarks.report import Column, Table, fixed, median, wall_stats
from orchestrator.models import JobResult

FULL_REPEATS = 3
COMMAND_TIMEOUT = 120.0
PLAN: dict[str, Any] = {
    "steps": [
        {
            "id": "answer",
            "agent": "generation",
            "input": {
                "instruction": "How do I reset my password?",
                "context": "To reset your password, open Settings and choose Reset password.",
            },
        }
    ]
}
PARTS = ("to_submit", "job", "stop_exit")
IMPORTS = {
    "interpreter_s": "pass",
    "cli_import_s": "import orchestrator.cli.app",
    "worker_import_s": "import orchestrator.cli.app, workers.main",
}


def clean_env() -> dict[str, str]:
    """This environment without celeriac's settings, or an OpenAI endpoint that would make
    the step call a real model."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CELERIAC_", "OPENAI_"))
    }


def python_seconds(code: str) -> float:
    """Wall seconds of ``python -c CODE`` in a clean environment."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code], env=clean_env(), cwd=repo_root(), check=True, timeout=60
    )
    return time.perf_counter() - start


def run_once(plan_file: Path) -> dict[str, float]:
    """One ``celeriac run --plan PLAN_FILE --json``: its seconds, whole and in parts."""
    command = [sys.executable, "-m", "orchestrator", "run", "--plan", str(plan_file), "--json"]
    began, start = time.time(), time.perf_counter()
    done = subprocess.run(
        command,
        env=clean_env(),
        cwd=repo_root(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    total, ended = time.perf_counter() - start, time.time()
    if done.returncode != 0:
        raise BenchmarkError(
            f"`celeriac run` exited with code {done.returncode}: {done.stderr.strip()[-500:]}"
        )
    result = check(JobResult.model_validate_json(done.stdout))
    if result.created_at is None or result.finished_at is None:
        raise BenchmarkError(f"job {result.job_id}: the result has no created_at or finished_at")
    created, finished = result.created_at.timestamp(), result.finished_at.timestamp()
    return {
        "total": total,
        "to_submit": created - began,
        "job": finished - created,
        "stop_exit": ended - finished,
    }


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    repeats = repeats or (1 if quick else FULL_REPEATS)
    with tempfile.TemporaryDirectory(prefix="celeriac-bench-") as folder:
        plan_file = Path(folder) / "plan.json"
        plan_file.write_text(json.dumps(PLAN))
        runs = [run_once(plan_file) for _ in range(repeats)]
    row: dict[str, Any] = wall_stats([r["total"] for r in runs])
    for part in PARTS:
        row[f"{part}_s"] = median([r[part] for r in runs])
    for key, code in IMPORTS.items():
        row[key] = median([python_seconds(code) for _ in range(repeats)])
    table = Table(
        "Startup: `celeriac run --plan one-step.json --json` in embedded mode "
        "(own Redis, 1 worker), command to result (median of runs)",
        [
            Column("runs", "runs"),
            Column("wall_s", "total s", fixed(2), better="lower"),
            Column("wall_range_s", "min-max s"),
            Column("to_submit_s", "to submit s", fixed(2)),
            Column("job_s", "job s", fixed(3)),
            Column("stop_exit_s", "stop and exit s", fixed(2)),
            Column("interpreter_s", "python alone s", fixed(2)),
            Column("cli_import_s", "CLI import s", fixed(2), better="lower"),
            Column("worker_import_s", "worker import s", fixed(2)),
        ],
        rows=[row],
        key=(),
    )
    table.notes += [
        "command: `python -m orchestrator run --plan PLAN_FILE --json`; one offline "
        "generation step; env without CELERIAC_* and OPENAI_*",
        "to submit: command to the job's created_at (CLI imports, Redis started, the worker "
        "started and seen alive); job: created_at to finished_at; stop and exit: from there "
        "to the process's exit (worker and Redis stopped, JSON printed)",
        "import columns: `python -c ...` alone: `pass`; `import orchestrator.cli.app`; "
        "`import orchestrator.cli.app, workers.main` (a worker's imports before Celery starts)",
    ]
    return [table]
