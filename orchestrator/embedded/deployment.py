"""Embedded mode: a whole deployment for one command, gone when it ends.

Uses ``CELERIAC_REDIS_URL`` when set, else starts a private Redis; then starts
worker processes serving every registered agent type (or those of a ``Shape``) and the
orchestrator.
Children die with this process, even if it is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from agents.collections import collections_dir, write_collection
from agents.documents import Document, empty_warning, read_documents
from agents.errors import CeleriacError, CollectionError
from orchestrator.embedded import early
from orchestrator.embedded.procs import start_worker, stop_process
from orchestrator.embedded.redis_server import RedisServer
from orchestrator.errors import UserError
from orchestrator.settings import Settings, read_settings
from orchestrator.store.connection import connect, redis_errors
from orchestrator.store.jobs import Store


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as ``CELERIAC_*`` variables, for child processes."""
    env = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        if name == "agent_modules":
            text = ",".join(value)
        elif isinstance(value, (dict, list, bool)):
            text = json.dumps(value)
        else:
            text = str(value)
        env[f"CELERIAC_{name.upper()}"] = text
    return env


@contextlib.contextmanager
def temporary_collection(
    data_dir: Path, paths: Sequence[Path], warn: Callable[[str], object]
) -> Iterator[str | None]:
    """Index ``paths`` as a collection of their own for one run, removed afterwards;
    None when there are no paths. Empty documents are left out, with one ``warn``."""
    if not paths:
        yield None
        return
    try:
        gathered = read_documents(paths)
    except CollectionError as exc:
        raise UserError(f"--docs: {exc}") from None
    except OSError as exc:
        raise UserError(f"--docs: cannot read {exc.filename}: {exc.strerror}") from None
    if not gathered.documents:
        raise UserError(f"--docs: no .txt, .md or .jsonl documents in {', '.join(map(str, paths))}")
    if gathered.empty:
        warn(f"--docs: {empty_warning(gathered.empty)}")
    with temporary_documents(data_dir, gathered.documents, prefix="docs") as name:
        yield name


@contextlib.contextmanager
def temporary_documents(
    data_dir: Path, documents: Sequence[Document], *, prefix: str, embeddings: bool = False
) -> Iterator[str]:
    """``documents`` as a collection of their own (``PREFIX-...``), removed afterwards;
    with ``embeddings`` for dense and hybrid search (celeriac[dense])."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    try:
        write_collection(data_dir, name, documents, embeddings=embeddings)
    except CollectionError as exc:
        raise UserError(str(exc)) from None
    try:
        yield name
    finally:
        shutil.rmtree(collections_dir(data_dir) / name, ignore_errors=True)


_HURRY_SECONDS = 2.0  # at most this long spent ending BRPOPs; then stop_process waits


class Embedded:
    """``with Embedded(settings) as live: Client(live)`` runs against a fresh deployment."""

    def __init__(
        self,
        settings: Settings,
        *,
        startup_timeout: float = 60.0,
        worker_args: list[str] | None = None,
        shape: early.Shape = early.RUN,
    ) -> None:
        self.settings = settings
        self.startup_timeout = startup_timeout
        self.worker_args = worker_args or []
        self.shape = shape
        self.redis: RedisServer | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self._logs = tempfile.TemporaryDirectory(prefix="celeriac-embedded-")

    def __enter__(self) -> Settings:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Settings:
        begun = early.take()
        if begun is not None and (live := self._take_over(begun)) is not None:
            return live
        url = self.settings.redis_url
        if not url:
            self.redis = RedisServer()
            url = self.redis.start()
        live = self.settings.model_copy(update={"redis_url": url, **self.shape.updates()})
        env = {**os.environ, **settings_env(live)}
        args = [*self.shape.args(), *self.worker_args]
        for index in range(live.embedded_workers):
            log = Path(self._logs.name) / f"worker-{index}.log"
            self.workers.append(start_worker(env, log, args))
        self._wait_for_workers(live)
        return live

    def _take_over(self, begun: early.Begun) -> Settings | None:
        """The deployment ``early.begin`` started for this command, if it was started with
        these settings (the environment's, unchanged since) and this shape, and its Redis
        answers; else None, and it is stopped."""
        fits = (
            not self.settings.redis_url
            and not self.worker_args
            and begun.shape == self.shape
            and len(begun.workers) == self.settings.embedded_workers
            and begun.environ == dict(os.environ)
            and read_settings() == self.settings
        )
        if not fits or not begun.redis.ready():
            begun.discard()
            return None
        self._logs.cleanup()
        self.redis, self.workers, self._logs = begun.redis, begun.workers, begun.logs
        live = self.settings.model_copy(
            update={"redis_url": begun.redis.url, **self.shape.updates()}
        )
        self._wait_for_workers(live)
        return live

    def _wait_for_workers(self, live: Settings) -> None:
        url = live.redis_url or ""
        client = connect(url)
        store = Store(client, grace_seconds=live.step_lease_seconds, result_ttl=60)
        pids = {process.pid for process in self.workers}
        deadline = time.monotonic() + self.startup_timeout
        try:
            while time.monotonic() < deadline:
                for index, process in enumerate(self.workers):
                    if process.poll() is not None:
                        raise CeleriacError(
                            f"embedded worker exited with code {process.returncode}:\n"
                            + self.log_tail(index)
                        )
                with redis_errors(url):
                    seen = store.roster.live(3 * live.worker_heartbeat_seconds).values()
                if pids <= {info.get("pid") for info in seen}:
                    return
                time.sleep(0.05)
            raise CeleriacError(
                f"embedded workers did not start within {self.startup_timeout:g}s:\n"
                + self.log_tail(0)
            )
        finally:
            client.close()

    def log_tail(self, index: int, lines: int = 20) -> str:
        path = Path(self._logs.name) / f"worker-{index}.log"
        try:
            text = path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def _hurry(self, seconds: float) -> None:
        """While the workers stop, end the BRPOPs they wait on (our own Redis only): each
        reads its last one before it exits, which would take up to a second."""
        if self.redis is None:
            return
        deadline = time.monotonic() + seconds
        for process in self.workers:
            while time.monotonic() < deadline:
                self.redis.unblock_readers()
                try:
                    process.wait(timeout=0.02)
                    break
                except subprocess.TimeoutExpired:
                    continue

    def stop(self, *, grace: float = 10.0) -> None:
        """Stop the workers (running steps get ``grace`` seconds to end), then Redis.

        A second Ctrl-C cannot cut this short and leave processes behind.
        """
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
        try:
            for process in self.workers:
                if process.poll() is None:
                    process.terminate()
            self._hurry(min(grace, _HURRY_SECONDS))
            for process in self.workers:
                stop_process(process, timeout=grace)
            self.workers.clear()
            if self.redis is not None:
                self.redis.stop()
                self.redis = None
            self._logs.cleanup()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
