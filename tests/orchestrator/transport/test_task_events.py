"""Task events in batches: Flower's receiver gets every one, in far fewer messages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from kombu.asynchronous import Hub

from orchestrator.embedded.redis_server import RedisServer
from orchestrator.transport.celery_app import make_app
from orchestrator.transport.task_events import BUFFER_LIMIT, BatchingEventDispatcher
from tests.support.helpers import command_calls, wait_for


@pytest.fixture
def app() -> Iterator[Celery]:
    with RedisServer() as server:
        app = make_app(server.url)
        yield app
        app.close()


def publishes(app: Celery) -> int:
    return command_calls(redis.Redis.from_url(app.conf.broker_url), "publish")


class Received:
    """Celery's event receiver (what Flower runs), in a thread, collecting task events."""

    def __init__(self, app: Celery) -> None:
        self.events: list[dict[str, Any]] = []
        self._connection = app.connection_for_read()
        self._receiver = app.events.Receiver(
            self._connection, handlers={"*": self._collect}, app=app
        )
        self._thread = threading.Thread(target=self._receiver.capture, daemon=True)
        self._thread.start()
        subscribed = redis.Redis.from_url(app.conf.broker_url)
        wait_for(lambda: subscribed.pubsub_numpat() > 0, timeout=10, what="the receiver")

    def _collect(self, event: dict[str, Any]) -> None:
        if event["type"].startswith("task-"):
            self.events.append(event)

    def stop(self) -> None:
        self._receiver.should_stop = True
        self._thread.join(10)
        self._connection.close()


def worker_dispatcher(app: Celery) -> BatchingEventDispatcher:
    """The dispatcher as a worker's consumer makes it: buffered, with a loop's callback."""
    dispatcher = app.events.Dispatcher(
        app.connection_for_write(),
        hostname="w@test",
        buffer_group=["task"],
        on_send_buffered=lambda: None,
    )
    assert isinstance(dispatcher, BatchingEventDispatcher)
    return dispatcher


def test_events_from_many_threads_arrive_in_a_few_messages(app: Celery) -> None:
    received = Received(app)
    dispatcher = worker_dispatcher(app)
    before = publishes(app)

    def steps(thread: int) -> None:
        for i in range(50):
            dispatcher.send("task-succeeded", uuid=f"{thread}-{i}", result="'ok'", runtime=0.1)

    threads = [threading.Thread(target=steps, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for(lambda: len(received.events) == 500, timeout=10, what="500 task events")
    sent = publishes(app) - before
    dispatcher.close()
    received.stop()
    expected = {f"{thread}-{i}" for thread in range(10) for i in range(50)}
    assert {e["uuid"] for e in received.events} == expected
    assert all(e["type"] == "task-succeeded" and e["hostname"] == "w@test" for e in received.events)
    assert sent <= 50, f"{sent} messages for 500 events"


def test_closing_sends_what_is_still_buffered(app: Celery) -> None:
    received = Received(app)
    dispatcher = worker_dispatcher(app)
    dispatcher.send("task-received", uuid="last", name="celeriac.run_step")
    dispatcher.close()  # before the flusher's turn
    wait_for(lambda: len(received.events) == 1, timeout=10, what="the buffered event")
    received.stop()
    assert received.events[0]["uuid"] == "last"


class Consumer:
    """What Celery's consumer gives a worker's dispatcher: its callback, and so its loop."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def on_send_event_buffered(self) -> None:
        pass


def test_a_worker_publishes_its_task_events_from_its_event_loop_only(app: Celery) -> None:
    """Celery's loop reads the dispatcher's connection (for the broker's heartbeats); a
    publish from another thread could lose its RabbitMQ confirm to the loop and wait for
    ever, holding the dispatcher's lock, and then the loop waits too. The loop is the
    consumer's, not kombu's current loop, which kombu forgets after a lost connection."""
    received = Received(app)
    hub = Hub()
    stopped = threading.Event()

    def run_loop() -> None:
        loop = hub.create_loop()
        while not stopped.is_set():
            next(loop)

    loop_thread = threading.Thread(target=run_loop, daemon=True)
    publishers: set[int] = set()
    dispatcher = app.events.Dispatcher(
        app.connection_for_write(),
        hostname="w@test",
        buffer_group=["task"],
        on_send_buffered=Consumer(hub).on_send_event_buffered,
    )
    inside: Any = dispatcher  # Celery's private parts, which its stubs do not know
    try:
        loop_thread.start()
        inside._loop_thread = loop_thread.ident
        publish = inside._publish

        def recorded(*args: Any, **kwargs: Any) -> Any:
            publishers.add(threading.get_ident())
            return publish(*args, **kwargs)

        inside._publish = recorded
        for i in range(BUFFER_LIMIT + 10):  # past the limit: Celery flushes in this thread
            dispatcher.send("task-succeeded", uuid=f"e-{i}", result="'ok'", runtime=0.1)
        wait_for(lambda: len(received.events) == BUFFER_LIMIT + 10, timeout=10, what="events")
    finally:
        stopped.set()
        hub.call_soon(lambda: None)  # wake the loop to see it
        loop_thread.join(10)
        inside._loop = None  # the loop has stopped: closing sends from here
        dispatcher.close()
        inside.connection.close()
        hub.close()
        received.stop()
    assert publishers == {loop_thread.ident}
