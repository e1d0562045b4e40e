"""What every ``celeriac`` command shares: its consoles and one way to fail."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from agents.errors import CeleriacError, RegistryError
from orchestrator.errors import UserError

# Piped or redirected, a table is as wide as what it holds (a program or a file reads it),
# not cut or wrapped at the 80 columns rich assumes without a terminal. COLUMNS still wins.
_UNWRAPPED = 100_000


def _console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = _UNWRAPPED
    return console


out = _console()
err = _console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def print_error(message: str) -> None:
    # soft_wrap: one line however narrow the terminal; escape: a path may hold "[...]".
    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def print_warning(message: str) -> None:
    """One line on stderr, however narrow the terminal."""
    err.print(escape(message), highlight=False, soft_wrap=True)


def errors_to_exit_codes(func: F) -> F:
    """One line on stderr per error: exit 2 for the user's mistakes, 1 for the rest."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (UserError, RegistryError) as exc:
            print_error(str(exc))
            raise typer.Exit(2) from None
        except CeleriacError as exc:
            print_error(str(exc))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted", highlight=False)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
