"""The sweeper in this process, on a private Redis, with a dispatcher that records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.embedded.redis_server import RedisServer
from orchestrator.runtime import Runtime
from orchestrator.transport.dispatch import RecordingDispatcher
from tests.support.helpers import make_settings
from tests.support.sample_agents import Echo


@pytest.fixture
def runtime() -> Iterator[tuple[Runtime, RecordingDispatcher]]:
    with RedisServer() as server:
        dispatcher = RecordingDispatcher()
        runtime = Runtime.build(make_settings(server.url), {"echo": Echo}, dispatcher=dispatcher)
        yield runtime, dispatcher
        runtime.close()


def test_a_worker_back_on_the_broker_has_the_next_sweep_send_unclaimed_messages_again(
    runtime: tuple[Runtime, RecordingDispatcher],
) -> None:
    """What was published while the broker was away may be lost: resent once, at once,
    not after CELERIAC_REDELIVER_SECONDS."""
    live, dispatcher = runtime
    live.engine.submit({"steps": [{"id": "a", "agent": "echo", "input": {"text": "x"}}]})
    (published,) = dispatcher.take_steps()  # sent, and no worker has claimed it
    assert live.sweeper.sweep().resent == 0  # nothing is due yet
    live.store.outbox.note_reconnection()
    report = live.sweeper.sweep()
    assert report.resent == 1 and dispatcher.take_steps() == [published]
    assert live.sweeper.sweep().resent == 0  # told once
    assert dispatcher.take_steps() == []
