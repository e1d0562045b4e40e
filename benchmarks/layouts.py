"""Throughput of one-step jobs and Redis cost per step on three deployment layouts.

The same 2 worker processes and one client, in the same run:

1. one Redis as broker and store (what ``Deployment`` does by default);
2. a 3-primary, 3-replica Redis Cluster as the store, a plain Redis as the broker;
3. the same cluster as the store, RabbitMQ as the broker.

N one-step noop jobs are submitted back to back, then all waited for (median of
``repeats`` runs). Each Redis node's counters are reset (``CONFIG RESETSTAT``) before the
measured part and read after (``cost.snapshot``): commands and redis-server CPU per step,
summed over the store's nodes (and, apart, the plain-Redis broker's), and the ceiling the
busiest single node (for the cluster, the busiest primary) implies: 1e6 / its usec per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import redis

from benchmarks.cost import Snapshot, one_step_plan, snapshot
from benchmarks.deployment import JOB_TIMEOUT, Deployment, check
from benchmarks.report import Column, Table, fixed, median, wall_stats
from orchestrator.embedded.redis_server import RedisServer
from tests.support.rabbitmq import RabbitNode
from tests.support.redis_cluster import RedisClusterNodes

WORKERS = 2
FULL_JOBS, QUICK_JOBS = 2000, 100


@dataclass(frozen=True)
class Layout:
    """A started deployment's URLs and the Redis ports to measure."""

    redis_url: str
    broker_url: str | None
    store_ports: list[int]
    primaries: list[int]
    broker_ports: list[int]


LayoutStarter = Callable[[ExitStack], Layout]


def one_redis(stack: ExitStack) -> Layout:
    server = stack.enter_context(RedisServer())
    port = redis.Redis.from_url(server.url).connection_pool.connection_kwargs["port"]
    return Layout(server.url, None, [port], [port], [])


def cluster_store(stack: ExitStack) -> RedisClusterNodes:
    return stack.enter_context(RedisClusterNodes())


def cluster_and_redis(stack: ExitStack) -> Layout:
    cluster = cluster_store(stack)
    plain = stack.enter_context(RedisServer())
    port = redis.Redis.from_url(plain.url).connection_pool.connection_kwargs["port"]
    return Layout(cluster.url, plain.url, list(cluster.ports), cluster.primaries(), [port])


def cluster_and_rabbitmq(stack: ExitStack) -> Layout:
    cluster = cluster_store(stack)
    node = stack.enter_context(RabbitNode())
    return Layout(cluster.url, node.vhost(), list(cluster.ports), cluster.primaries(), [])


LAYOUTS: list[tuple[str, LayoutStarter]] = [
    ("one Redis (broker + store)", one_redis),
    ("cluster store + Redis broker", cluster_and_redis),
    ("cluster store + RabbitMQ broker", cluster_and_rabbitmq),
]


@contextmanager
def counters(ports: list[int]) -> Iterator[dict[int, tuple[Snapshot, Snapshot]]]:
    """Reset every node's stats, yield; the dict then holds each node's (before, after)."""
    clients = {port: redis.Redis(host="127.0.0.1", port=port) for port in ports}
    before: dict[int, Snapshot] = {}
    for port, client in clients.items():
        client.config_resetstat()
        before[port] = snapshot(client)
    spans: dict[int, tuple[Snapshot, Snapshot]] = {}
    try:
        yield spans
    finally:
        for port, client in clients.items():
            spans[port] = (before[port], snapshot(client))
            client.close()


def many_jobs(live: Deployment, jobs: int) -> float:
    start = time.perf_counter()
    handles = [live.submit(one_step_plan()) for _ in range(jobs)]
    for handle in handles:
        check(handle.wait(timeout=JOB_TIMEOUT))
    return time.perf_counter() - start


def cost_of(spans: dict[int, tuple[Snapshot, Snapshot]], ports: list[int], steps: int) -> Any:
    """Commands and CPU usec per step summed over ``ports``, and each node's CPU usec."""
    calls = sum(spans[p][1].calls - spans[p][0].calls for p in ports)
    cpu = {p: (spans[p][1].cpu_s - spans[p][0].cpu_s) * 1e6 / steps for p in ports}
    return calls / steps, sum(cpu.values()), cpu


def measure(name: str, start: LayoutStarter, jobs: int, repeats: int) -> dict[str, Any]:
    with ExitStack() as stack:
        layout = start(stack)
        overrides: dict[str, Any] = {"redis_url": layout.redis_url}
        if layout.broker_url:
            overrides["broker_url"] = layout.broker_url
        live = stack.enter_context(Deployment(workers=WORKERS, **overrides))
        live.run(one_step_plan())  # warm up: workers connected, scripts loaded
        walls, spans_runs = [], []
        for _ in range(repeats):
            with counters(layout.store_ports + layout.broker_ports) as spans:
                walls.append(many_jobs(live, jobs))
            spans_runs.append(spans)
    mid = spans_runs[walls.index(median_wall(walls))]
    calls, cpu, per_node = cost_of(mid, layout.store_ports, jobs)
    primary_calls, primary_cpu, _ = cost_of(mid, layout.primaries, jobs)
    busiest = max(per_node[p] for p in layout.primaries)
    row = {
        "layout": name,
        "workers": WORKERS,
        "jobs": jobs,
        **wall_stats(walls),
        "jobs_per_s": jobs / median(walls),
        "store_calls_per_step": calls,
        "store_cpu_usec_per_step": cpu,
        "primary_calls_per_step": primary_calls,
        "primary_cpu_usec_per_step": primary_cpu,
        "busiest_cpu_usec_per_step": busiest,
        "ceiling_steps_per_s": 1e6 / busiest if busiest > 0 else float("inf"),
        "node_cpu_usec_per_step": {str(p): v for p, v in per_node.items()},
        "broker_calls_per_step": None,
        "broker_cpu_usec_per_step": None,
    }
    if layout.broker_ports:
        b_calls, b_cpu, _ = cost_of(mid, layout.broker_ports, jobs)
        row |= {"broker_calls_per_step": b_calls, "broker_cpu_usec_per_step": b_cpu}
    return row


def median_wall(walls: list[float]) -> float:
    """The run whose wall is the median (the lower middle one for an even count)."""
    return sorted(walls)[(len(walls) - 1) // 2]


def optional(digits: int) -> Callable[[Any], str]:
    return lambda value: "-" if value is None else fixed(digits)(value)


def run(quick: bool, repeats: int | None = None, jobs: int | None = None) -> list[Table]:
    repeats = repeats or (1 if quick else 3)
    jobs = jobs or (QUICK_JOBS if quick else FULL_JOBS)
    table = Table(
        title=f"Deployment layouts: {jobs} one-step noop jobs, {WORKERS} worker processes",
        columns=[
            Column("layout", "layout", left=True),
            Column("runs", "runs"),
            Column("wall_s", "wall s", fixed(2)),
            Column("wall_range_s", "min-max s"),
            Column("jobs_per_s", "jobs/s", fixed(0), better="higher"),
            Column("store_calls_per_step", "store cmds/step", fixed(1)),
            Column("store_cpu_usec_per_step", "store CPU us/step", fixed(0)),
            Column("primary_calls_per_step", "primaries cmds/step", fixed(1)),
            Column("primary_cpu_usec_per_step", "primaries CPU us/step", fixed(0)),
            Column("busiest_cpu_usec_per_step", "busiest node us/step", fixed(0), better="lower"),
            Column("ceiling_steps_per_s", "Redis ceiling steps/s", fixed(0)),
            Column("broker_calls_per_step", "broker cmds/step", optional(1)),
            Column("broker_cpu_usec_per_step", "broker CPU us/step", optional(0)),
        ],
        key=("layout", "workers", "jobs"),
    )
    table.rows = [measure(name, start, jobs, repeats) for name, start in LAYOUTS]
    table.notes += [
        "store: every Redis node of the store summed (the cluster's 3 primaries and 3 "
        "replicas; a replica's commands are its primary's writes replayed); primaries: the "
        "primaries alone; broker: the plain Redis broker (layout 2 only; RabbitMQ is not "
        "measured). "
        "Commands from INFO commandstats, CPU from INFO cpu (user + sys), after CONFIG "
        "RESETSTAT; the ceiling is 1e6 / the busiest single node's (primary's) CPU us per step.",
        "This is a 2-core machine where the workers, the client and every Redis node share "
        "the cores, so the worker is the bottleneck: the cluster's gain shows in the per-node "
        "CPU (and the ceiling), not in jobs/s.",
    ]
    return [table]
