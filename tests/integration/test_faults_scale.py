"""Faults of the scaled-out layouts, each with 100 jobs in flight: a Redis Cluster primary
SIGKILLed (its replica takes over), the RabbitMQ node restarted, a worker SIGKILLed while
the broker is RabbitMQ. Nothing may be lost, and each step's result is written once."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import redis

from orchestrator.client import Client, JobHandle
from orchestrator.embedded.deployment import Embedded
from orchestrator.settings import Settings
from orchestrator.store.connection import connect
from tests.integration.test_faults import pid_of, serving
from tests.integration.test_faults_load import diamond, reaches, wait_all
from tests.integration.test_jobs import runs
from tests.support.helpers import make_settings, wait_for
from tests.support.rabbitmq import RabbitNode, needs_rabbitmq
from tests.support.redis_cluster import RedisClusterNodes, needs_cluster
from tests.support.sample_agents import TEST_PREFIX

pytestmark = [pytest.mark.faults, needs_rabbitmq, pytest.mark.timeout(300)]
JOBS = 100


def submit_all(client: Client, tag: str) -> list[JobHandle]:
    return [client.submit(plan=diamond(tag, 0.3)) for _ in range(JOBS)]


def check(client: Client, r: redis.Redis, jobs: list[JobHandle]) -> int:
    """Every job succeeded and wrote each step's result once; how many steps ran again."""
    results = wait_all(client, jobs, timeout=120)
    assert Counter(result.status for result in results) == {"succeeded": JOBS}
    again = 0
    for job in jobs:
        events = list(job.events(follow=False))
        succeeded = Counter(e.step_id for e in events if e.type == "step_succeeded")
        assert succeeded == dict.fromkeys("abcd", 1)  # each step's result written once
        assert sum(e.type == "job_finished" for e in events) == 1
        again += sum(max(0, runs(r, job.id, step) - 1) for step in "abcd")
    return again


@needs_cluster
def test_a_cluster_primary_killed_with_100_jobs_in_flight_loses_nothing(
    rabbitmq: RabbitNode,
    unique: Callable[[str], str],
    tmp_path: Path,
    measured: Callable[[str], None],
) -> None:
    tag = unique("failover")
    url = rabbitmq.vhost()
    with RedisClusterNodes() as cluster:
        settings = make_settings(cluster.url, broker_url=url, embedded_workers=2, data_dir=tmp_path)
        with Embedded(settings) as live, Client(live) as client:
            r = connect(cluster.url, retries=30)
            jobs = submit_all(client, tag)
            wait_for(reaches(r, f"{TEST_PREFIX}:started:{tag}", 100), timeout=60, what="steps")
            victim = cluster.primaries()[0]
            cluster.kill(victim)
            cluster.wait_failed_over(victim)  # a replica took over the victim's slots
            again = check(client, r, jobs)
            r.close()
    rabbitmq.drop(url)
    measured(f"a cluster primary killed under 100 jobs: {again} steps ran again")


def test_the_rabbitmq_node_restarted_with_100_jobs_in_flight_loses_nothing(
    isolated: Callable[..., Settings],
    rabbitmq: RabbitNode,
    unique: Callable[[str], str],
    measured: Callable[[str], None],
) -> None:
    tag = unique("rabbit-restart")
    url = rabbitmq.vhost()
    live = isolated(workers=2, broker_url=url)
    assert live.redis_url
    with redis.Redis.from_url(live.redis_url, decode_responses=True) as r, Client(live) as client:
        jobs = submit_all(client, tag)
        wait_for(reaches(r, f"{TEST_PREFIX}:started:{tag}", 100), timeout=60, what="steps")
        rabbitmq.restart()  # quorum queues and their persistent messages come back
        again = check(client, r, jobs)
    rabbitmq.drop(url)
    measured(f"RabbitMQ restarted under 100 jobs: {again} steps ran again")


def test_a_worker_killed_with_rabbitmq_and_100_jobs_in_flight_loses_nothing(
    isolated: Callable[..., Settings],
    spawn: Callable[..., subprocess.Popen[bytes]],
    rabbitmq: RabbitNode,
    unique: Callable[[str], str],
    measured: Callable[[str], None],
) -> None:
    tag = unique("rabbit-kill")
    url = rabbitmq.vhost()
    live = isolated(workers=1, worker_args=["--no-agents"], broker_url=url)
    assert live.redis_url
    workers = {}
    for _ in range(2):
        process = spawn(live, "worker", "--no-orchestrator", "--loglevel", "WARNING")
        wait_for(partial(serving, live, process), what="an agent worker to start")
        workers[process.pid] = process
    with redis.Redis.from_url(live.redis_url, decode_responses=True) as r, Client(live) as client:
        started = f"{TEST_PREFIX}:started:{tag}"
        jobs = submit_all(client, tag)
        wait_for(reaches(r, started, 100), timeout=60, what="steps to start")
        busy = pid_of(str(r.lindex(started, -1)))
        workers.pop(busy).kill()  # the worker that started a step last, mid-step
        again = check(client, r, jobs)
    rabbitmq.drop(url)
    assert again >= 1  # the kill caught steps mid-run, and they ran again elsewhere
    measured(f"a worker killed with RabbitMQ under 100 jobs: {again} steps ran again")
