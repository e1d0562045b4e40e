"""The private Redis and workers of ``celeriac run``, started before the CLI's imports.

Importing the CLI takes ~0.4 s, and a worker ~0.5 s more before it is seen alive: one
after the other, they were most of a short run. ``begin`` starts Redis and the workers as
the command's first act, with nothing but the standard library, so that the workers
import while the CLI does (the machine's other core); ``Embedded.start`` then takes them
over (``take``) once it has checked that its settings are the ones they were started
with. Only for ``run`` and ``eval`` with settings from the environment alone: no
CELERIAC_REDIS_URL and no option that changes settings. An evaluation's workers have the
``Shape`` its command names: only the agent types its items use, and no steps' scores (the
evaluation measures its items itself). Anything else, or any failure here, leaves the
start to ``Embedded`` as before. What nobody took over is killed at exit: no step has
run on it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.embedded.procs import start_worker
from orchestrator.embedded.redis_server import RedisServer


@dataclass(frozen=True)
class Shape:
    """How a command's embedded workers differ from ``celeriac worker`` with the
    environment's settings: the agent types they serve (every one if none), and whether
    they score steps."""

    agents: tuple[str, ...] = ()
    scoring: bool = True

    def args(self) -> list[str]:
        """The ``celeriac worker`` options."""
        return [option for agent in self.agents for option in ("--agent", agent)]

    def updates(self) -> dict[str, Any]:
        """The settings that differ from the environment's."""
        return {} if self.scoring else {"scoring": False}

    def env(self) -> dict[str, str]:
        """``updates`` as the workers' ``CELERIAC_*`` variables."""
        return {} if self.scoring else {"CELERIAC_SCORING": "false"}


RUN = Shape()
# A translation step's own chrF of its whole batch costs a fifth of translating it, and
# the scoring of one step holds up the others' threads: an evaluation measures its items
# itself, so its steps go unscored; a worker for one agent type starts ~0.4 s sooner.
EVALS = {
    "translation": Shape(("translation",), scoring=False),
    "retrieval": Shape(("retrieval",), scoring=False),
    "qa": Shape(("retrieval", "generation"), scoring=False),
    "summarization": Shape(("generation",), scoring=False),
}
# The commands that start an embedded deployment with the environment's settings.
_DEPLOYING: dict[tuple[str, ...], Shape] = {
    ("run",): RUN,
    **{("eval", name): shape for name, shape in EVALS.items()},
}
# Options of `run` that change the workers' settings (they are given to workers as
# CELERIAC_* variables once parsed), and --help, which runs nothing.
_SETTING_OPTIONS = ("--fallback-language", "--approve-plan", "--approval-timeout", "--help")


@dataclass
class Begun:
    """A launched Redis (maybe not answering yet) and workers pointed at it."""

    redis: RedisServer
    workers: list[subprocess.Popen[bytes]]
    logs: tempfile.TemporaryDirectory[str]
    shape: Shape = RUN
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))  # when begun

    def discard(self) -> None:
        for process in self.workers:
            with contextlib.suppress(OSError):
                process.kill()
        for process in self.workers:
            process.wait()
        self.redis.stop()
        self.logs.cleanup()


_begun: Begun | None = None


def begin(argv: list[str]) -> None:
    """For ``celeriac run ...`` and the like (``argv`` without the program), start Redis
    and workers."""
    global _begun
    wanted = _workers_wanted(argv)
    if wanted is None or _begun is not None:
        return
    workers, shape = wanted
    redis = RedisServer()
    logs = tempfile.TemporaryDirectory(prefix="celeriac-embedded-")
    begun = Begun(redis, [], logs, shape)
    try:
        env = {**begun.environ, **shape.env(), "CELERIAC_REDIS_URL": redis.launch()}
        for index in range(workers):
            log = Path(logs.name) / f"worker-{index}.log"
            begun.workers.append(start_worker(env, log, shape.args()))
    except Exception:  # no redis-server, no process: Embedded says what is wrong
        begun.discard()
        return
    _begun = begun
    atexit.register(_discard)


def take() -> Begun | None:
    """What ``begin`` started, now the caller's to stop (None if it started nothing)."""
    global _begun
    begun, _begun = _begun, None
    return begun


def _discard() -> None:
    begun = take()
    if begun is not None:
        begun.discard()


def _workers_wanted(argv: list[str]) -> tuple[int, Shape] | None:
    """How many workers ``argv`` will want started, and their shape; None if not here."""
    command = next((c for c in _DEPLOYING if tuple(argv[: len(c)]) == c), None)
    if command is None or os.environ.get("CELERIAC_REDIS_URL"):
        return None
    if any(arg.startswith(_SETTING_OPTIONS) for arg in argv[len(command) :]):
        return None
    try:
        workers = int(os.environ.get("CELERIAC_EMBEDDED_WORKERS") or 1)
    except ValueError:
        return None  # the settings will say what is wrong with it
    return (workers, _DEPLOYING[command]) if workers >= 1 else None
