"""The broker transport: kombu's Redis transport, made to survive a Redis restart.

Selected in ``make_app`` with ``broker_transport``; the broker URL stays ``redis://``.
"""

from __future__ import annotations

import logging
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


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel
