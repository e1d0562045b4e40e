"""``celeriac index``: building and listing the retrieval agent's collections."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agents.collections import Built, build_collection, collections_dir, list_collections
from agents.documents import empty_warning
from agents.errors import CeleriacError, CollectionError
from orchestrator.cli.common import err, errors_to_exit_codes, out, print_warning
from orchestrator.errors import UserError
from orchestrator.settings import read_settings


@errors_to_exit_codes
def index(
    name: Annotated[
        str | None, typer.Argument(metavar="NAME", help="Collection name.", show_default=False)
    ] = None,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH", help=".txt, .md or .jsonl files, or directories.", show_default=False
        ),
    ] = None,
    list_all: Annotated[bool, typer.Option("--list", help="List the collections.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --list: print JSON.")] = False,
    no_dense: Annotated[
        bool,
        typer.Option("--no-dense", help="Skip the embeddings for dense and hybrid retrieval."),
    ] = False,
) -> None:
    """Index documents as collection NAME for the retrieval agent, replacing any earlier build.

    Collections live in CELERIAC_DATA_DIR/collections, which retrieval workers must share.
    Where celeriac[dense] is installed, document embeddings are stored too (unless
    --no-dense), for dense and hybrid retrieval.
    """
    data_dir = read_settings().data_dir
    if list_all:
        if name or paths:
            raise UserError("--list takes no NAME or PATH")
        _list_collections(data_dir, as_json)
        return
    if not name or not paths:
        raise UserError("give a name and what to index: `celeriac index NAME PATH...` (or --list)")
    from agents import dense  # numpy only where a collection is built

    embeddings = not no_dense and dense.available()
    try:
        with err.status(f"indexing {name}", spinner="dots"):
            built = build_collection(data_dir, name, paths, embeddings=embeddings)
    except CollectionError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise CeleriacError(f"cannot write under {collections_dir(data_dir)}: {exc}") from None
    _report_built(built, name, wanted_dense=not no_dense)


def _report_built(built: Built, name: str, *, wanted_dense: bool) -> None:
    """What was indexed, skipped, and whether it has embeddings."""
    from agents import dense

    count = built.manifest.documents
    out.print(
        escape(f"indexed {count} document{'s' * (count != 1)} as {name!r} in {built.path}"),
        highlight=False,
        soft_wrap=True,
    )
    if built.skipped:
        err.print(f"skipped {len(built.skipped)} files that are not .txt, .md or .jsonl")
    if built.empty:
        print_warning(empty_warning(built.empty))
    if wanted_dense and not built.manifest.embeddings:
        err.print(
            escape(f"no embeddings (BM25 only): for dense and hybrid retrieval, {dense.INSTALL}"),
            highlight=False,
            soft_wrap=True,
        )


def _list_collections(data_dir: Path, as_json: bool) -> None:
    manifests = list_collections(data_dir)
    if as_json:
        listing = [
            m.model_dump(mode="json", include={"name", "documents", "built_at", "embeddings"})
            for m in manifests
        ]
        sys.stdout.write(json.dumps({"collections": listing}, indent=2) + "\n")
        return
    if not manifests:
        err.print(
            escape(
                f"no collections in {collections_dir(data_dir)}: create one with "
                "`celeriac index NAME PATH...`"
            ),
            highlight=False,
            soft_wrap=True,
        )
        return
    table = Table(title=escape(f"collections in {collections_dir(data_dir)}"))
    table.add_column("collection")
    table.add_column("documents", justify="right")
    table.add_column("built at")
    table.add_column("dense embeddings")
    for manifest in manifests:
        table.add_row(
            manifest.name,
            f"{manifest.documents:,}",
            manifest.built_at.isoformat(),
            manifest.embeddings or "none",
        )
    out.print(table)
