"""The broker transport: kombu's Redis transport, made to survive a Redis restart and
messages that are not tasks, and to take waiting messages in batches.

kombu's BRPOP brings one message per round trip, and records it as unacknowledged in
another. After each BRPOP, the messages still waiting on the worker's queues come in one
more round trip (``RPOP`` with a count, up to what the worker's prefetch allows), and
their records go in one pipeline before any is handed on: a thousand queued steps cost
the consumer thread half what they did.

Selected in ``make_app`` with ``broker_transport``; the broker URL stays ``redis://``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from kombu.asynchronous import get_event_loop
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual as kombu_virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads
from redis.exceptions import ResponseError

log = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    # While a batch already recorded as unacknowledged is delivered.
    recorded = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acks: list[str] = []  # acknowledged, their entries not yet removed
        self._acks_lock = threading.Lock()

    def append(self, message: Any, delivery_tag: str) -> None:
        if self.recorded:
            kombu_virtual.QoS.append(self, message, delivery_tag)
        else:
            super().append(message, delivery_tag)

    def record(self, pipe: Any, payload: dict[str, Any]) -> None:
        """Queue on ``pipe`` the unacknowledged entry kombu's ``append`` would write for
        ``payload`` (what its ``restore_unacked`` reads back)."""
        properties = payload["properties"]
        tag, delivery = properties["delivery_tag"], properties["delivery_info"]
        entry = dumps([payload, delivery["exchange"], delivery["routing_key"]])
        pipe.zadd(self.unacked_index_key, {tag: time.time()})
        pipe.hset(self.unacked_key, tag, entry)

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
        # In a worker, acknowledgements that come in one turn of its event loop remove
        # their entries in one round trip, at the next turn.
        hub = get_event_loop()
        if hub is None:
            self._remove([delivery_tag])
            kombu_virtual.QoS.ack(self, delivery_tag)
            return
        with self._acks_lock:
            first = not self._acks
            self._acks.append(delivery_tag)
        kombu_virtual.QoS.ack(self, delivery_tag)
        if first:
            hub.call_soon(self.flush_acks)

    def flush_acks(self) -> None:
        with self._acks_lock:
            tags, self._acks = self._acks, []
        if tags:
            self._remove(tags)

    def _remove(self, tags: list[str]) -> None:
        # A task that ends after a reconnection acknowledges on its old, closed
        # channel: the same AttributeError. Its message stays unacknowledged; when
        # kombu restores it, the step is already recorded and the claim drops it.
        try:
            with self.pipe_or_acquire() as pipe:
                for tag in tags:
                    self._remove_from_indices(tag, pipe)  # type: ignore[attr-defined]
                pipe.execute()
        except AttributeError:
            log.warning("could not acknowledge %s on a lost connection", ", ".join(tags))

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        try:
            super().reject(delivery_tag, requeue=requeue)
        except AttributeError:
            log.warning("could not reject %s on a lost connection", delivery_tag)


# What a malformed message raises where kombu and Celery read it. Anyone who can write
# to Redis can push one; uncaught, it is an "Unrecoverable error" that ends the worker.
_MALFORMED = (ValueError, KeyError, TypeError)
BATCH = 64  # messages taken at most per round trip after a BRPOP


class Channel(kombu_redis.Channel):
    QoS = QoS
    _shared_client: Any = None
    # RPOP with a count needs Redis 6.2; on an older server, one message a BRPOP.
    _batches = True

    def close(self) -> None:
        if self._qos is not None:
            cast(QoS, self._qos).flush_acks()
        super().close()

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
            super()._brpop_read(**options)  # type: ignore[misc]
        except _MALFORMED:
            log.exception("dropped a queue entry that is not a kombu message")
        self._read_more()
        return True

    def _read_more(self) -> None:
        # BRPOP brings one message a round trip. When it brought one, more may wait:
        # take up to what the worker's prefetch allows in one more round trip, record
        # them as unacknowledged in one pipeline, then hand them to the consumer.
        qos = cast(QoS, self.qos)
        room = min(qos.can_consume_max_estimate() or 0, BATCH)
        queues = list(self.active_queues)[: max(room, 0)]
        if not self._batches or not queues:
            return
        each = max(1, room // len(queues))
        with self.conn_or_acquire() as client:
            fetch = client.pipeline(transaction=False)
            for queue in queues:
                fetch.rpop(queue, each)
            try:
                taken = fetch.execute()
            except ResponseError:
                log.info("Redis before 6.2 pops one message at a time: no batches")
                Channel._batches = False
                return
            batch, record = [], client.pipeline(transaction=False)
            for queue, items in zip(queues, taken, strict=True):
                for item in items or ():
                    try:
                        payload = loads(bytes_to_str(item))
                        qos.record(record, payload)
                    except _MALFORMED:
                        log.exception("dropped a queue entry that is not a kombu message")
                        continue
                    batch.append((queue, payload))
            record.execute()
        qos.recorded = True
        try:
            for queue, payload in batch:
                try:
                    self.connection._deliver(payload, queue)
                except _MALFORMED:
                    log.exception("dropped a queue entry that is not a kombu message")
        finally:
            qos.recorded = False

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
