"""The engine in this process, against a private Redis, with a dispatcher that sends nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest

from orchestrator.embedded.redis_server import RedisServer
from orchestrator.engine import Engine
from orchestrator.models import Goal, Plan, Score
from orchestrator.planning.base import Check, Planner
from orchestrator.planning.cards import Cards
from orchestrator.store.connection import connect
from orchestrator.store.jobs import Store
from orchestrator.store.records import Followups
from orchestrator.transport.dispatch import RecordingDispatcher
from tests.support.helpers import make_settings
from tests.support.sample_agents import Echo


class Broken(Planner):
    name = "broken"

    def plan(self, goal: Goal, cards: Cards, check: Check) -> Plan:
        raise RuntimeError("a bug in the planner")


@pytest.fixture
def engine() -> Iterator[Engine]:
    with RedisServer() as server:
        client = connect(server.url)
        store = Store(client, grace_seconds=1, result_ttl=60)
        store.roster.heartbeat("w1", {"hostname": "w1", "agents": ["echo"]}, forget_after=60)
        yield Engine(store, RecordingDispatcher(), {"echo": Echo}, make_settings(server.url))
        client.close()


def test_a_planner_that_raises_fails_its_job_instead_of_leaving_it_pending(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("orchestrator.engine.build_planner", lambda *_: Broken())
    job_id = engine.submit(goal=Goal(text="What is sync?"))
    engine.start(job_id)
    result = engine.store.result(job_id)
    assert result.status == "failed"
    assert result.error == "planning failed: RuntimeError: a bug in the planner"
    assert result.plan is None


# A new connection's handshake and health checks.
CONNECTION_COMMANDS = frozenset({"HELLO", "CLIENT", "PING"})


@contextmanager
def commands_sent(store: Store) -> Iterator[list[str]]:
    """The commands clients send the store's Redis inside the block, by name, as its
    MONITOR sees them (the commands a script runs are not counted)."""
    sent: list[str] = []
    end = "ECHO end of the block"
    with cast(Any, store.redis).monitor() as monitor:  # redis-py leaves it untyped

        def watch() -> None:
            for entry in monitor.listen():
                if entry["command"] == end:
                    return
                name = entry["command"].split()[0].upper()
                if entry["client_type"] != "lua" and name not in CONNECTION_COMMANDS:
                    sent.append(name)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        yield sent
        store.redis.echo(end.split(" ", 1)[1])
        watcher.join(timeout=30)
        assert not watcher.is_alive()


def last_step_done(engine: Engine, text: str) -> tuple[str, Followups]:
    """A one-step job whose step a worker has just completed: its id and the followups."""
    job_id = engine.submit({"steps": [{"id": "a", "agent": "echo", "input": {"text": text}}]})
    assert engine.store.claim(job_id, "a", 1, "echo", "w1", 30, max_attempts=3).ok
    scores = [Score(name="f1", value=0.75, method="lexical")]
    return job_id, engine.store.complete(job_id, "a", {"text": text}, scores)


def test_a_job_ended_by_its_last_step_is_finalized_without_reading_it_again(
    engine: Engine,
) -> None:
    assert engine.finalize(last_step_done(engine, "first")[0])  # loads read.lua and finish.lua
    job_id, followups = last_step_done(engine, "hello")
    twin_id, twin = last_step_done(engine, "hello")
    with commands_sent(engine.store) as sent:
        engine.deliver(job_id, followups)
    assert sent == ["EVALSHA"]  # finish.lua, and no read
    # The same job finalized after a read of its own (a finalize sent again) ends the same.
    with commands_sent(engine.store) as sent:
        assert engine.finalize(twin_id)
    assert sent == ["EVALSHA", "EVALSHA"]  # read.lua, then finish.lua
    ended, read = engine.store.result(job_id), engine.store.result(twin_id)
    assert (ended.status, ended.answer, ended.score) == ("succeeded", {"text": "hello"}, 0.75)
    assert (read.status, read.answer, read.score, read.error) == (
        ended.status,
        ended.answer,
        ended.score,
        ended.error,
    )
    assert twin.ended is not None and engine.finalize(twin_id, ended=twin.ended)  # once only
    assert engine.store.result(twin_id).finished_at == read.finished_at
