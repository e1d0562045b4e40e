"""The ``celeriac`` command.

Exit codes: 0 success; 1 a runtime failure (Redis unreachable, a job that
failed or was cancelled, a timeout); 2 bad usage or input (an invalid plan,
an unknown job or agent). With ``--json`` stdout holds only JSON.
"""

from __future__ import annotations

import os
import sys

import typer

from orchestrator.cli.approval import approve, reject
from orchestrator.cli.deploy import agents, dead_letters, flower, health, worker
from orchestrator.cli.eval import app as eval_app
from orchestrator.cli.index import index
from orchestrator.cli.jobs import cancel, plan_goal, result, run, status, submit, watch
from orchestrator.cli.serve import register as register_service

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="celeriac: plans of agent steps, run as Celery jobs over Redis.",
)

app.command()(run)
app.command()(submit)
app.command("plan")(plan_goal)
app.command()(status)
app.command()(watch)
app.command()(result)
app.command()(cancel)
app.command()(approve)
app.command()(reject)
for command in (worker, flower, agents, health):
    app.command()(command)
app.command("dead-letters")(dead_letters)
app.command()(index)
app.add_typer(eval_app, name="eval")
register_service(app)  # serve, keys, chat


def main() -> None:
    # Like `celery -A`, agent modules may live in the current directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    app()
