"""``python -m tests.support.crash_points worker ...``: a worker that dies at a chosen point.

It runs the ``celeriac`` command line, but its process SIGKILLs itself the first time
it is about to publish what a change of state made due (the steps a job's start or a
step's completion queued, or a job's finalize): after the change is recorded in Redis,
before any message for it reaches the broker.
"""

from __future__ import annotations

import os
import signal

from orchestrator.cli.main import main
from orchestrator.engine import Engine
from orchestrator.store.records import Followups

_deliver = Engine.deliver


def _die_before_delivering(self: Engine, job_id: str, followups: Followups) -> None:
    if followups.messages or followups.finalize:
        os.kill(os.getpid(), signal.SIGKILL)
    _deliver(self, job_id, followups)


if __name__ == "__main__":
    Engine.deliver = _die_before_delivering  # type: ignore[method-assign]
    main()
