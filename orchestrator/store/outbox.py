"""The outbox and the indexes the sweeper reads: what is due, whose lease expired, what
was published and not claimed, whether Redis restarted."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import cast

import redis
from redis.commands.core import Script

from orchestrator import names
from orchestrator.store.records import StepMessage


class Outbox:
    """The deployment-wide indexes of the store (``Store.outbox``)."""

    def __init__(self, client: redis.Redis, sent: Script, redeliver_seconds: float) -> None:
        self.redis = client
        self._sent = sent  # sent.lua
        self.redeliver_seconds = redeliver_seconds

    def now(self) -> float:
        seconds, micros = self.redis.time()
        return seconds + micros / 1_000_000

    def due(self, key: str, now: float, limit: int = 500) -> list[str]:
        return cast(list[str], self.redis.zrangebyscore(key, "-inf", now, start=0, num=limit))

    def expired_leases(self, now: float) -> Iterator[tuple[str, str]]:
        for member in self.due(names.LEASES_KEY, now):
            job_id, _, step_id = member.partition(" ")
            yield job_id, step_id

    def unclaimed(self, now: float, agents: Collection[str] | None = None) -> list[StepMessage]:
        """The step messages (for ``agents``, or all) published and not yet claimed, or
        about to be published: those a worker that died may have taken with it."""
        waiting = cast(list[str], self.redis.zrangebyscore(names.OUTBOX_KEY, f"({now}", "+inf"))
        messages = [StepMessage.parse(raw) for raw in waiting]
        return [m for m in messages if agents is None or m.agent in agents]

    def restarted(self) -> bool:
        """Whether Redis is another process than when this was last asked (by anyone).

        A Redis that was killed may have lost replies on their way, messages being handed
        to workers among them. False where the server does not say (a managed Redis may
        refuse INFO or hide its run id)."""
        try:
            run_id = self.redis.info("server").get("run_id")
        except redis.ResponseError:
            return False
        if not run_id:
            return False
        return self.redis.set(names.SERVER_KEY, run_id, get=True) not in (run_id, None)

    def sent(self, messages: Sequence[StepMessage]) -> None:
        """The messages are on their queues: send them again only if no worker claims them."""
        if messages:
            self._sent(
                keys=[names.OUTBOX_KEY],
                args=[self.redeliver_seconds, *(message.raw for message in messages)],
            )

    def rewatch(self, member: str, at: float) -> None:
        self.redis.zadd(names.WATCH_KEY, {member: at}, xx=True)

    def try_lock(self, key: str, seconds: float) -> bool:
        return bool(self.redis.set(key, "1", nx=True, px=max(1, int(seconds * 1000))))
