"""Connecting to Redis, and turning connection failures into one clear error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis
from kombu.exceptions import OperationalError
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_random_exponential

from orchestrator.errors import RedisUnavailable
from orchestrator.settings import CLUSTER_SCHEMES


def safe_url(url: str) -> str:
    """The URL with any password masked, fit for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str, *, max_connections: int = 50, retries: int = 3) -> redis.Redis:
    """A client for celeriac's state: text replies, short connect timeout, health checks.

    Its pool blocks for a free connection rather than failing, so a worker's
    threads share ``max_connections`` connections. Failed commands are retried
    ``retries`` times with jittered backoff (0.1 s doubling to 2 s): workers
    pass enough to ride out a Redis restart.

    A ``redis+cluster://`` (or ``rediss+cluster://``) URL names any node of a Redis
    Cluster: the client is then redis-py's ``RedisCluster``, which finds the others, sends
    each command to the node holding its key, and follows a failover. It answers the same
    commands, so it stands in for ``redis.Redis`` here.
    """
    options: dict[str, Any] = {
        "max_connections": max_connections,
        "timeout": 30,
        "decode_responses": True,
        "socket_connect_timeout": 5,
        "health_check_interval": 30,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.1, cap=2.0), retries),
    }
    if url.startswith(CLUSTER_SCHEMES):
        # Per node: a pool that blocks as the plain one does; a failover takes a few
        # seconds (cluster-node-timeout and an election), which the retries ride out.
        cluster = redis.RedisCluster.from_url(
            url.replace("+cluster://", "://", 1),
            connection_pool_class=redis.BlockingConnectionPool,
            **options,
        )
        return cast(redis.Redis, cluster)
    pool = redis.BlockingConnectionPool.from_url(url, **options)
    return redis.Redis.from_pool(pool)  # closing the client closes its pool


UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OperationalError)


def outlasting(seconds: float) -> Retrying:
    """Calls through this are tried again while Redis is unreachable, for up to ``seconds``
    (then the last error is raised): what a client waiting on a job rides out, a Redis
    restart or a cluster's failover (``cluster-node-timeout`` and an election, 2-3 s)."""
    return Retrying(
        retry=retry_if_exception_type(UNREACHABLE),
        stop=stop_after_delay(max(0.0, seconds)),
        wait=wait_random_exponential(multiplier=0.1, max=2.0),
        reraise=True,
    )


@contextmanager
def redis_errors(url: str) -> Iterator[None]:
    """Raise ``RedisUnavailable`` naming the URL when Redis cannot be reached."""
    try:
        yield
    except UNREACHABLE as exc:
        raise RedisUnavailable(
            f"cannot reach Redis at {safe_url(url)}: {str(exc).rstrip('.')}. "
            "Is it running, and is CELERIAC_REDIS_URL right?"
        ) from exc
