"""The broker transport's batches: after a BRPOP, the messages waiting on the worker's
queues come in one more round trip, as many as its prefetch allows, and every one is
recorded as unacknowledged until it is acknowledged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu import Connection, Consumer, Producer, Queue
from kombu.asynchronous import Hub, set_event_loop

from orchestrator.embedded.redis_server import RedisServer
from tests.support.helpers import command_calls

QUEUE = Queue("batch-test", routing_key="batch-test")


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def connect(server: RedisServer) -> Connection:
    return Connection(
        server.url,
        transport="orchestrator.transport.broker:Transport",
        transport_options={"priority_steps": [0]},
    )


def publish(connection: Connection, count: int, first: int = 0) -> None:
    with connection.channel() as channel:
        producer = Producer(channel, routing_key=QUEUE.routing_key, serializer="json")
        for i in range(first, first + count):
            producer.publish({"n": i}, declare=[QUEUE])


def receive(connection: Connection, prefetch: int, wanted: int, ack: bool = True) -> list[Any]:
    received: list[Any] = []

    def on_message(body: Any, message: Any) -> None:
        received.append(body["n"])
        if ack:
            message.ack()

    with Consumer(connection, [QUEUE], callbacks=[on_message]) as consumer:
        consumer.qos(prefetch_count=prefetch)
        while len(received) < wanted:
            try:
                connection.drain_events(timeout=5)
            except TimeoutError:
                break
    return received


def test_waiting_messages_come_in_batches_each_once(server: RedisServer) -> None:
    r = redis.Redis.from_url(server.url)
    with connect(server) as connection:
        publish(connection, 300)
        received = receive(connection, prefetch=1000, wanted=300)
    assert sorted(received) == list(range(300)) and received[:3] == [0, 1, 2]  # FIFO
    # One BRPOP and one RPOP with a count per batch of up to 64: not 300 BRPOPs.
    assert command_calls(r, "brpop") <= 10 and 1 <= command_calls(r, "rpop") <= 10
    assert not r.llen(QUEUE.name) and not r.hlen("unacked") and not r.zcard("unacked_index")


def test_a_batch_takes_no_more_than_the_prefetch_allows(server: RedisServer) -> None:
    r = redis.Redis.from_url(server.url)
    with connect(server) as connection:
        publish(connection, 50)
        received = receive(connection, prefetch=10, wanted=10, ack=False)
        # Unacknowledged, the ten are kombu's to restore if this consumer dies; the other
        # forty wait on the queue for another worker.
        assert len(received) == 10
        assert r.llen(QUEUE.name) == 40 and r.hlen("unacked") == 10
        unacked = [json.loads(raw)[2] for raw in r.hvals("unacked")]
        assert unacked == [QUEUE.routing_key] * 10


def test_an_entry_that_is_not_a_message_is_dropped_from_a_batch(server: RedisServer) -> None:
    r = redis.Redis.from_url(server.url)
    with connect(server) as connection:
        publish(connection, 5)
        r.lpush(QUEUE.name, "not a kombu message")
        publish(connection, 5, first=5)
        received = receive(connection, prefetch=100, wanted=10)
    assert sorted(received) == list(range(10))
    assert not r.llen(QUEUE.name) and not r.hlen("unacked")


def test_acks_in_a_workers_loop_are_removed_together_and_on_close(server: RedisServer) -> None:
    r = redis.Redis.from_url(server.url)
    messages: list[Any] = []
    previous = set_event_loop(Hub())  # as in a worker: acks wait for the loop's next turn
    try:
        with connect(server) as connection:
            publish(connection, 5)
            with Consumer(connection, [QUEUE], callbacks=[lambda _, m: messages.append(m)]):
                while len(messages) < 5:
                    connection.drain_events(timeout=5)
                for message in messages:
                    message.ack()
                assert r.hlen("unacked") == 5  # removed at the loop's next turn
        assert not r.hlen("unacked") and not r.zcard("unacked_index")  # closing removed them
    finally:
        set_event_loop(previous)
