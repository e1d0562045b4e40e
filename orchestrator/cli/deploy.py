"""The commands that run and watch a deployment: ``worker``, ``flower``, ``agents`` and
``health``."""

from __future__ import annotations

import json
import socket
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from agents.registry import load_registry
from orchestrator.cli.common import err, errors_to_exit_codes, out
from orchestrator.client import Client
from orchestrator.errors import UserError
from orchestrator.planning.cards import AgentCard
from orchestrator.settings import read_settings
from orchestrator.transport.celery_app import make_app


@errors_to_exit_codes
def worker(
    agent: Annotated[
        list[str] | None,
        typer.Option("--agent", help="Agent type to serve (repeat); all registered types if none."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Steps run at once (default CELERIAC_WORKER_CONCURRENCY)."),
    ] = None,
    orchestrator: Annotated[
        bool, typer.Option(help="Also serve the orchestrator queue (plan, finalize) and sweep.")
    ] = True,
    serve_agents: Annotated[
        bool,
        typer.Option(
            "--agents/--no-agents",
            help="Serve agent queues (--no-agents: only the orchestrator's).",
        ),
    ] = True,
    pool: Annotated[
        str, typer.Option(help="threads (I/O-bound agents), prefork or solo.")
    ] = "threads",
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Start a worker for some agent types' queues (and the orchestrator's)."""
    from workers.main import run_worker  # workers depend on the orchestrator, not back

    if not serve_agents and agent:
        raise UserError("--no-agents and --agent contradict each other: drop one")
    run_worker(
        read_settings(),
        agent or [],
        serve_agents=serve_agents,
        concurrency=concurrency,
        orchestrator=orchestrator,
        pool=pool,
        loglevel=loglevel,
    )


@errors_to_exit_codes
def flower(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5555,
    address: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    basic_auth: Annotated[
        str | None,
        typer.Option(help="user:password required to log in (default CELERIAC_FLOWER_BASIC_AUTH)."),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Run without a login (e.g. behind your own proxy).")
    ] = False,
    persistent: Annotated[
        bool, typer.Option(help="Keep Flower's task history in CELERIAC_DATA_DIR/flower.db.")
    ] = True,
) -> None:
    """Start the Flower dashboard on this deployment (a login is required unless --no-auth).

    Every step shows as a task named after its agent; /metrics serves Prometheus metrics.
    """
    settings = read_settings()
    if not settings.redis_url:
        raise UserError("CELERIAC_REDIS_URL is not set: Flower watches a deployment's Redis")
    login = basic_auth or settings.flower_basic_auth
    if login and no_auth:
        raise UserError(
            "--no-auth and a login (--basic-auth or CELERIAC_FLOWER_BASIC_AUTH) contradict "
            "each other: drop one"
        )
    if not login and not no_auth:
        raise UserError(
            "Flower would be open to anyone: set CELERIAC_FLOWER_BASIC_AUTH=user:password "
            "(or --basic-auth user:password), or pass --no-auth to run it without a login"
        )
    if login and ":" not in login.strip(":"):
        raise UserError("--basic-auth must be user:password")
    argv = ["flower", f"--port={port}", f"--address={address}"]
    if login:
        argv.append(f"--basic-auth={login}")
    if persistent:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        argv += ["--persistent=True", f"--db={settings.data_dir / 'flower.db'}"]
    make_app(settings.broker).start(argv)


@errors_to_exit_codes
def agents(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List registered agent types and the live workers serving them."""
    settings = read_settings()
    registry = load_registry(settings.agent_modules)
    workers: dict[str, dict[str, Any]] = {}
    cards: dict[str, AgentCard] = {}
    if settings.redis_url:
        with Client(settings) as client:
            workers, cards = client.live_workers(), client.cards()
    served = {name for info in workers.values() for name in info.get("agents", [])}
    # A type served elsewhere is described by the card its worker published.
    descriptions = {name: cards[name].description for name in served if name in cards}
    descriptions |= {name: cls.description for name, cls in registry.items()}
    if as_json:
        listing = {
            "agents": {
                name: {"description": description, "importable": name in registry}
                for name, description in sorted(descriptions.items())
            },
            "workers": workers,
        }
        sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        return
    table = Table(title="agent types")
    for column in ("agent", "live workers", "description"):
        table.add_column(column)
    for name in sorted(descriptions.keys() | served):
        count = sum(name in info.get("agents", []) for info in workers.values())
        description = descriptions.get(name, "(no card published)")
        table.add_row(
            name, str(count), description + ("" if name in registry else " (not importable here)")
        )
    out.print(table)
    if not settings.redis_url:
        err.print("CELERIAC_REDIS_URL is not set: no live workers to show")


@errors_to_exit_codes
def health(
    agent: Annotated[
        str | None, typer.Option(help="Also require a live worker here serving this type.")
    ] = None,
) -> None:
    """Exit 0 if a worker on this machine sent a heartbeat lately; 1 if not.

    A container's health check (docker-compose.yml uses it).
    """
    settings = read_settings()
    here = socket.gethostname()
    with Client(settings) as client:
        workers = client.live_workers().values()
    mine = [info for info in workers if str(info.get("hostname", "")).endswith(f"@{here}")]
    if agent is not None:
        mine = [info for info in mine if agent in info.get("agents", [])]
    if not mine:
        what = f" serving {agent!r}" if agent else ""
        err.print(f"no live worker{what} on {here}", highlight=False)
        raise typer.Exit(1)
    out.print(f"{len(mine)} live worker(s) on {here}", highlight=False)


@errors_to_exit_codes
def dead_letters(
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List steps that failed for good: after all their attempts, or crashing their worker."""
    with Client(read_settings()) as client:
        letters = client.dead_letters(limit)
    if as_json:
        sys.stdout.write(json.dumps([d.model_dump(mode="json") for d in letters], indent=2) + "\n")
        return
    table = Table(title=f"dead letters ({len(letters)} newest)")
    for column in ("at", "job", "step", "agent", "attempts", "error"):
        table.add_column(column)
    for d in letters:
        at = d.at.isoformat(timespec="seconds")
        table.add_row(at, d.job_id, d.step_id, d.agent, str(d.attempts), d.error)
    out.print(table)
