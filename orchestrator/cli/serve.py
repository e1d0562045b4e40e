"""``celeriac serve``, ``celeriac keys create|list|revoke`` and ``celeriac chat``.

The web stack is imported by the commands that use it, so that other commands start as
fast as before.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from orchestrator.cli.common import err, errors_to_exit_codes, out
from orchestrator.errors import UserError
from orchestrator.settings import read_settings
from orchestrator.store.connection import connect, redis_errors

if TYPE_CHECKING:
    from orchestrator.service.keys import Keys

keys_app = typer.Typer(no_args_is_help=True, help="API keys of `celeriac serve`: tenants.")


@errors_to_exit_codes
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Serve a non-loopback address without keys."),
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "warning",
) -> None:
    """Serve the HTTP API (/v1, docs at /docs) and the page at /.

    Over CELERIAC_REDIS_URL; without it, over a private Redis and a worker of its own.
    Every /v1 route needs `Authorization: Bearer KEY` once a key exists.
    """
    from orchestrator.service.server import serve as run_server

    run_server(
        read_settings(),
        host=host,
        port=port,
        insecure=insecure,
        log_level=log_level,
        started=lambda line: err.print(line, highlight=False),
    )


def _keys() -> tuple[Keys, str]:
    from orchestrator.service.keys import Keys

    settings = read_settings()
    if not settings.redis_url:
        raise UserError("keys live in the deployment's Redis: set CELERIAC_REDIS_URL")
    return Keys(connect(settings.redis_url)), settings.redis_url


@keys_app.command("create")
@errors_to_exit_codes
def create_key(
    name: Annotated[str, typer.Argument(help="Who the key is for.")],
    collection: Annotated[
        list[str] | None,
        typer.Option("--collection", help="A collection it may search (repeat); none: all."),
    ] = None,
    rate: Annotated[
        int | None, typer.Option(min=1, help="Requests a minute (default the server's).")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Jobs running at once (default the server's).")
    ] = None,
) -> None:
    """Make a key and print it (once: only its hash is kept)."""
    keys, url = _keys()
    with redis_errors(url):
        made = keys.create(
            name, collections=collection, requests_per_minute=rate, concurrent_jobs=concurrency
        )
    sys.stdout.write(made.secret + "\n")
    err.print(f"key {made.record.id} for {name}: keep it, it is not shown again", highlight=False)


@keys_app.command("list")
@errors_to_exit_codes
def list_keys(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The keys: id, name, collections, limits (never the keys themselves)."""
    keys, url = _keys()
    with redis_errors(url):
        records = keys.list()
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump() for r in records], indent=2) + "\n")
        return
    table = Table()
    for column in ("id", "name", "collections", "requests/min", "jobs at once"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r.id,
            r.name,
            ", ".join(r.collections) or "all",
            str(r.requests_per_minute or "default"),
            str(r.concurrent_jobs or "default"),
        )
    out.print(table)


@keys_app.command("revoke")
@errors_to_exit_codes
def revoke_key(name: Annotated[str, typer.Argument(help="The key's name or id.")]) -> None:
    """Refuse a key from its next request on."""
    keys, url = _keys()
    with redis_errors(url):
        record = keys.revoke(name)
    out.print(f"revoked {record.id} ({record.name})", highlight=False)


def register(app: typer.Typer) -> None:
    from orchestrator.cli.chat import chat

    app.command()(serve)
    app.command()(chat)
    app.add_typer(keys_app, name="keys")
