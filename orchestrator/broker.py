"""The broker transport: kombu's Redis transport, made to survive a Redis restart and
messages that are not tasks.

Selected in ``make_app`` with ``broker_transport``; the broker URL stays ``redis://``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    def restore_unacked(self, client: Any = None) -> None:
        # When the connection to Redis is lost while tasks run, kombu closes the
        # channel and restores its unacknowledged messages through a client whose
        # connection is already gone: an AttributeError that kills the worker
        # ("Unrecoverable error: ... no attribute 'hostname'"). The messages are
        # safe in Redis (kombu restores them after the visibility timeout), and
        # celeriac's leases and outbox recover their steps much sooner.
        try:
            super().restore_unacked(client)
        except AttributeError:
            log.warning("broker connection lost: unacknowledged messages stay in Redis")

    def ack(self, delivery_tag: str) -> None:
        # A task that ends after a reconnection acknowledges on its old, closed
        # channel: the same AttributeError. Its message stays unacknowledged; when
        # kombu restores it, the step is already recorded and the claim drops it.
        try:
            super().ack(delivery_tag)
        except AttributeError:
            log.warning("could not acknowledge %s on a lost connection", delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        try:
            super().reject(delivery_tag, requeue=requeue)
        except AttributeError:
            log.warning("could not reject %s on a lost connection", delivery_tag)


# What a malformed message raises where kombu and Celery read it. Anyone who can write
# to Redis can push one; uncaught, it is an "Unrecoverable error" that ends the worker.
_MALFORMED = (ValueError, KeyError, TypeError)


class Channel(kombu_redis.Channel):
    QoS = QoS
    _shared_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        # kombu builds a new redis-py client (and its table of reply callbacks) for each
        # message it publishes: a fifth of a millisecond, three times per step with task
        # events. One client per connection pool does the same; it is thread-safe.
        if client:
            yield client
            return
        shared = self._shared_client
        if shared is None or shared.connection_pool is not self.pool:
            shared = self._shared_client = self._create_client()  # type: ignore[attr-defined]
        yield shared

    def _brpop_read(self, **options: Any) -> bool:
        # An entry of a queue's list that is not a kombu message at all (not JSON, or
        # JSON of another shape) fails before any handler sees it. It is already off the
        # list: drop it.
        try:
            return bool(super()._brpop_read(**options))  # type: ignore[misc]
        except _MALFORMED:
            log.exception("dropped a queue entry that is not a kombu message")
            return True

    def basic_consume(
        self,
        queue: str,
        no_ack: bool,
        callback: Callable[..., Any] | None,
        consumer_tag: str | None,
        **kwargs: Any,
    ) -> Any:
        # A kombu message whose body Celery cannot read as a task (JSON, but not
        # [args, kwargs, embed]) fails in Celery's handler, past the checks it has for
        # bodies that are not JSON: reject it, or it stays unacknowledged.
        def guarded(message: Any) -> Any:
            assert callback is not None  # kombu's consumers always pass one
            try:
                return callback(message)
            except _MALFORMED:
                log.exception("rejected a message on %s that is not a task", queue)
                if not message.acknowledged:
                    message.reject()
                return None

        return super().basic_consume(queue, no_ack, guarded, consumer_tag, **kwargs)


class Transport(kombu_redis.Transport):
    Channel = Channel
