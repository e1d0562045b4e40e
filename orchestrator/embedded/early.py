"""The private Redis and workers of ``celeriac run``, started before the CLI's imports.

Importing the CLI takes ~0.4 s, and a worker ~0.5 s more before it is seen alive: one
after the other, they were most of a short run. ``begin`` starts Redis and the workers as
the command's first act, with nothing but the standard library, so that the workers
import while the CLI does (the machine's other core); ``Embedded.start`` then takes them
over (``take``) once it has checked that its settings are the ones they were started
with. Only for ``run`` with settings from the environment alone: no CELERIAC_REDIS_URL
and no option that changes settings. Anything else, or any failure here, leaves the
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

from orchestrator.embedded.procs import start_worker
from orchestrator.embedded.redis_server import RedisServer

# The commands that start an embedded deployment with the environment's settings.
_DEPLOYING = (
    ["run"],
    *(["eval", name] for name in ("retrieval", "translation", "qa", "summarization")),
)
# Options of `run` that change the workers' settings (they are given to workers as
# CELERIAC_* variables once parsed), and --help, which runs nothing.
_SETTING_OPTIONS = ("--fallback-language", "--approve-plan", "--approval-timeout", "--help")


@dataclass
class Begun:
    """A launched Redis (maybe not answering yet) and workers pointed at it."""

    redis: RedisServer
    workers: list[subprocess.Popen[bytes]]
    logs: tempfile.TemporaryDirectory[str]
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
    workers = _workers_wanted(argv)
    if workers is None or _begun is not None:
        return
    redis = RedisServer()
    logs = tempfile.TemporaryDirectory(prefix="celeriac-embedded-")
    begun = Begun(redis, [], logs)
    try:
        env = {**begun.environ, "CELERIAC_REDIS_URL": redis.launch()}
        for index in range(workers):
            begun.workers.append(start_worker(env, Path(logs.name) / f"worker-{index}.log"))
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


def _workers_wanted(argv: list[str]) -> int | None:
    """How many workers ``argv`` will want started, or None if not here."""
    command = next((c for c in _DEPLOYING if argv[: len(c)] == c), None)
    if command is None or os.environ.get("CELERIAC_REDIS_URL"):
        return None
    if any(arg.startswith(_SETTING_OPTIONS) for arg in argv[len(command) :]):
        return None
    try:
        workers = int(os.environ.get("CELERIAC_EMBEDDED_WORKERS") or 1)
    except ValueError:
        return None  # the settings will say what is wrong with it
    return workers if workers >= 1 else None
