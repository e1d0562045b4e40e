"""The ``celeriac`` command's commands (``orchestrator.cli.main`` runs them)."""

from __future__ import annotations

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
