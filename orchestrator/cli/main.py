"""The ``celeriac`` command.

Exit codes: 0 success; 1 a runtime failure (Redis unreachable, a job that
failed or was cancelled, a timeout); 2 bad usage or input (an invalid plan,
an unknown job or agent). With ``--json`` stdout holds only JSON.

The commands live in ``orchestrator.cli.app``; this module imports them only once
``celeriac run`` has started its Redis and workers (``orchestrator.embedded.early``),
so that those start while the commands import.
"""

from __future__ import annotations

import gc
import os
import sys

from orchestrator.embedded import early


def main() -> None:
    early.begin(sys.argv[1:])
    # Like `celery -A`, agent modules may live in the current directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    from orchestrator.cli.app import app

    try:
        app()
    finally:
        # The collector would otherwise traverse every object the imports made, once more,
        # as the interpreter exits: 0.1-0.4 s after the command is done (measured on 2
        # cores). Frozen, they are left to the operating system; exit handlers still run.
        gc.freeze()
