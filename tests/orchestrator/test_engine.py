"""The engine in this process, against a private Redis, with a dispatcher that sends nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.embedded.redis_server import RedisServer
from orchestrator.engine import Engine
from orchestrator.models import Goal, Plan
from orchestrator.planning.base import Check, Planner
from orchestrator.planning.cards import Cards
from orchestrator.store.connection import connect
from orchestrator.store.jobs import Store
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
