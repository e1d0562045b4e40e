"""Who is serving: workers' heartbeats and the capability cards of the types they serve.

A worker says it is alive every CELERIAC_WORKER_HEARTBEAT_SECONDS with what it serves;
``celeriac agents``, the planner and embedded mode read that back. Time comes from Redis.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

import redis

from orchestrator import names
from orchestrator.planning.cards import AgentCard


class Roster:
    """The live workers of one deployment, and the cards of their agent types."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def now(self) -> float:
        seconds, micros = self.redis.time()
        return seconds + micros / 1_000_000

    def heartbeat(self, worker_id: str, info: dict[str, Any], forget_after: float) -> None:
        """Say this worker is alive; forget workers silent for ``forget_after`` seconds."""
        now = self.now()
        gone: list[str] = cast(
            Any, self.redis.zrangebyscore(names.WORKERS_KEY, "-inf", now - forget_after)
        )
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(names.WORKERS_KEY, {worker_id: now})
        pipe.hset(names.WORKER_INFO_KEY, worker_id, json.dumps(info))
        if gone:
            pipe.zrem(names.WORKERS_KEY, *gone)
            pipe.hdel(names.WORKER_INFO_KEY, *gone)
        pipe.execute()

    def forget(self, worker_id: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(names.WORKERS_KEY, worker_id)
        pipe.hdel(names.WORKER_INFO_KEY, worker_id)
        pipe.execute()

    def take_lost(self, max_age: float) -> dict[str, dict[str, Any]]:
        """Workers silent for ``max_age`` seconds that never said goodbye, with what they
        reported; each is taken off the roster and returned to one caller only."""
        ids: list[str] = cast(
            Any, self.redis.zrangebyscore(names.WORKERS_KEY, "-inf", self.now() - max_age)
        )
        if not ids:
            return {}
        infos: list[str | None] = cast(Any, self.redis.hmget(names.WORKER_INFO_KEY, ids))
        lost = {}
        for worker_id, info in zip(ids, infos, strict=True):
            if self.redis.zrem(names.WORKERS_KEY, worker_id):  # not taken by another sweeper
                self.redis.hdel(names.WORKER_INFO_KEY, worker_id)
                lost[worker_id] = json.loads(info) if info else {}
        return lost

    def publish_cards(self, cards: Sequence[AgentCard]) -> None:
        """Say what these agent types do, for planners anywhere (a worker does at start)."""
        if cards:
            self.redis.hset(
                names.CARDS_KEY, mapping={card.name: card.model_dump_json() for card in cards}
            )

    def cards(self) -> dict[str, AgentCard]:
        """Every agent type's card that a worker has published, by name."""
        raw = cast(dict[str, str], self.redis.hgetall(names.CARDS_KEY))
        return {name: AgentCard.model_validate_json(card) for name, card in raw.items()}

    def live(self, max_age: float) -> dict[str, dict[str, Any]]:
        """Workers heard from within ``max_age`` seconds, with what they reported."""
        ids: list[str] = cast(
            Any, self.redis.zrangebyscore(names.WORKERS_KEY, self.now() - max_age, "+inf")
        )
        if not ids:
            return {}
        infos: list[str | None] = cast(Any, self.redis.hmget(names.WORKER_INFO_KEY, ids))
        return {wid: json.loads(info) for wid, info in zip(ids, infos, strict=True) if info}
