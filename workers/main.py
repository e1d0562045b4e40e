"""Starting a worker: its queues, its pool, and its background duties.

Background duties run in one thread of the worker's main process: a heartbeat
(which agent types this worker serves, read by ``celeriac agents`` and the
planner), and, on workers that serve the orchestrator queue, the sweeper.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
import time
from typing import Any

from celery import bootsteps
from celery.signals import (
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from agents.base import Agent
from agents.registry import Registry, load_registry
from orchestrator import names, tracing
from orchestrator.errors import ConfigError
from orchestrator.planning.cards import AgentCard
from orchestrator.planning.readiness import published
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings
from orchestrator.store.outbox import Outbox
from workers.batch import Carried
from workers.chain import Chaining
from workers.step import StepRunner
from workers.tasks import register_tasks
from workers.wakeup import ShutdownWaker

log = logging.getLogger(__name__)
POOLS = ("threads", "prefork", "solo")
# CPython collects its youngest generation every 700 allocations of containers. A worker
# with a thousand steps in flight keeps each step's objects for as long as its model call
# takes, so they are traversed again and again, promoted, and traversed in full collections
# of every object: 0.1-0.2 s pauses, 10-25% of a busy worker's time (benchmarks/concurrency).
# Only the youngest generation's threshold is raised; the older ones keep CPython's.
GC_THRESHOLDS = (50_000, 10, 10)


def flush_traces(**_: Any) -> None:
    tracing.shutdown()


def tune_gc(**_: Any) -> None:
    """Take what start-up made out of the collector's sight (it lives as long as the
    process), and collect less often."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class _WarmUp:
    """The served agents' ``warm_up``, in a daemon thread once the worker is ready."""

    def __init__(self, agents: list[type[Agent]]) -> None:
        self.agents = agents

    def start(self, **_: Any) -> None:
        threading.Thread(target=self._run, name="celeriac-warm-up", daemon=True).start()

    def _run(self) -> None:
        for agent in self.agents:
            try:
                agent.warm_up()
            except Exception:
                log.exception("warming up %s failed; its first step will load it", agent.name)


class Background:
    """Heartbeat and sweeper, in one daemon thread."""

    def __init__(
        self, runtime: Runtime, worker_id: str, info: dict[str, Any], orchestrator: bool
    ) -> None:
        self.runtime = runtime
        self.worker_id = worker_id
        self.info = info
        self.orchestrator = orchestrator
        self._stop = threading.Event()

    def start(self, **_: Any) -> None:
        threading.Thread(target=self._loop, name="celeriac-background", daemon=True).start()

    def stop(self, **_: Any) -> None:
        self._stop.set()
        try:
            self.runtime.store.roster.forget(self.worker_id)
        except Exception:
            log.warning("could not remove worker %s from the registry", self.worker_id)

    def _loop(self) -> None:
        settings = self.runtime.settings
        period = min(settings.worker_heartbeat_seconds, settings.sweep_interval_seconds)
        last_beat = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_beat >= settings.worker_heartbeat_seconds:
                    self.runtime.store.roster.heartbeat(
                        self.worker_id, self.info, forget_after=3600
                    )
                    last_beat = time.monotonic()
                # One sweep per interval across all orchestrator workers.
                if self.orchestrator and self.runtime.store.outbox.try_lock(
                    names.SWEEP_LOCK_KEY, settings.sweep_interval_seconds
                ):
                    self.runtime.sweeper.sweep()
            except Exception:
                log.exception("background duty failed; will try again")
            self._stop.wait(period)


def reconnection_step(outbox: Outbox) -> type[bootsteps.StartStopStep]:
    """A step of Celery's consumer, which Celery starts again each time the consumer is
    back on the broker after losing it: from its second start on, it has the next sweep
    send every unclaimed message again (``Outbox.note_reconnection``), since what was
    published while the broker was away may be lost, and the outbox would otherwise wait
    ``CELERIAC_REDELIVER_SECONDS``."""

    class Reconnected(bootsteps.StartStopStep):
        requires = ("celery.worker.consumer.tasks:Tasks",)
        starts = 0

        def start(self, parent: Any) -> None:
            self.starts += 1
            if self.starts == 1:
                return
            log.warning("back on the broker; the next sweep sends unclaimed messages again")
            try:
                outbox.note_reconnection()
            except Exception:  # the store may be away too; its own restart is noticed
                log.exception("could not note the broker reconnection")

    return Reconnected


def start_worker(
    app: Any, queues: list[str], concurrency: int, pool: str, loglevel: str, hostname: str
) -> None:
    """Run Celery's worker until it shuts down, as ``celery worker`` would with these
    options; through ``app.Worker`` rather than ``app.worker_main``, whose command line
    (click and its plugins) costs 0.3-0.6 s of imports at every start."""
    worker = app.Worker(
        queues=queues,
        concurrency=concurrency,
        pool_cls=pool,
        loglevel=loglevel,
        hostname=hostname,
        without_gossip=True,
        without_mingle=True,
    )
    worker.start()
    if worker.exitcode:
        raise SystemExit(worker.exitcode)


def select_agents(registry: Registry, wanted: list[str]) -> list[str]:
    unknown = sorted(set(wanted) - set(registry))
    if unknown:
        known = ", ".join(sorted(registry)) or "none (set CELERIAC_AGENT_MODULES)"
        raise ConfigError(f"unknown agent type(s) {', '.join(unknown)}; registered: {known}")
    return sorted(set(wanted)) if wanted else sorted(registry)


def run_worker(
    settings: Settings,
    agents: list[str],
    *,
    serve_agents: bool = True,
    concurrency: int | None = None,
    orchestrator: bool = True,
    pool: str = "threads",
    loglevel: str = "INFO",
) -> None:
    """Serve ``agents``' queues (all registered when empty) and maybe the orchestrator's,
    until the worker shuts down."""
    registry = load_registry(settings.agent_modules)
    served = _served(registry, agents, serve_agents, orchestrator, pool)
    concurrency = concurrency or settings.worker_concurrency
    # A connection for every thread at once (the pool's, and as many for carried steps:
    # workers.batch), plus the background threads'; retries ride out a Redis restart.
    threads = 2 * concurrency if pool == "threads" else concurrency
    runtime = Runtime.build(settings, registry, connections=threads + 8, retries=30)
    runner = StepRunner(runtime, registry)
    runtime.engine.model = runner.model  # planning and replanning on this worker use it
    register_tasks(runtime.app, runtime, runner, Carried(runner, pool, concurrency))
    waker = ShutdownWaker()  # a SIGTERM stops the worker now, not at its next poll
    if pool != "prefork":  # see workers.chain; its events show carried steps too
        runner.chain = Chaining(served if settings.chain_steps else (), waker.signalled)
        worker_ready.connect(runner.chain.ready, weak=False)
    # What the served types do, for planners anywhere (they may not import these agents);
    # what they can do here (translation's installed pairs) goes with every heartbeat
    # (``capabilities``): clients check inputs against it, the planner joins it.
    runtime.store.roster.publish_cards([AgentCard.of(registry[name]) for name in served])
    queues = [names.agent_queue(name) for name in served]
    if orchestrator:
        queues.append(names.ORCHESTRATOR_QUEUE)
    hostname = f"celeriac-{os.getpid()}@{socket.gethostname()}"
    info = {
        "hostname": hostname,
        "pid": os.getpid(),
        "agents": served,
        "orchestrator": orchestrator,
        "pool": pool,
        "concurrency": concurrency,
        "capabilities": published(registry, served, runner.model),
    }
    if settings.metrics_port:
        runner.telemetry.serve(settings.metrics_port, runtime.app, queues)
    runtime.app.steps["consumer"].add(reconnection_step(runtime.store.outbox))
    background = Background(runtime, hostname, info, orchestrator)
    _connect(background, [registry[n] for n in served], waker)
    start_worker(runtime.app, queues, concurrency, pool, loglevel, hostname)


def _connect(background: Background, served: list[type[Agent]], waker: ShutdownWaker) -> None:
    """What the worker does when it is ready, forks a pool process, and shuts down."""
    worker_ready.connect(waker.install, weak=False)  # before the heartbeat says "alive"
    worker_process_init.connect(waker.forget, weak=False)
    worker_ready.connect(background.start, weak=False)
    worker_ready.connect(_WarmUp(served).start, weak=False)  # once the heartbeat is sent
    worker_ready.connect(tune_gc, weak=False)  # the threads and solo pools run steps here
    worker_process_init.connect(tune_gc, weak=False)  # each prefork child
    worker_shutdown.connect(background.stop, weak=False)
    # Spans still batched go out before the worker (or a prefork child) exits.
    for shutdown in (worker_shutdown, worker_process_shutdown):
        shutdown.connect(flush_traces, weak=False)


def _served(
    registry: Registry, agents: list[str], serve_agents: bool, orchestrator: bool, pool: str
) -> list[str]:
    """The agent types the worker serves; a ``ConfigError`` if it would serve nothing."""
    if pool not in POOLS:
        raise ConfigError(f"unknown pool {pool!r}; choose one of {', '.join(POOLS)}")
    served = select_agents(registry, agents) if serve_agents else []
    if not served and not orchestrator:
        raise ConfigError("this worker would serve nothing: name an --agent or keep --orchestrator")
    return served
