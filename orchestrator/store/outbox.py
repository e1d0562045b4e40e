"""The outbox and the indexes the sweeper reads: what is due, whose lease expired, what
was published and not claimed, whether Redis restarted or a worker lost the broker.

Every index is split in shards (``names.SHARDS``); a job's scripts write those of its own
shard, and these read every shard, one script a shard (``scan.lua``), each on the node
that holds it and by that node's clock.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis
from redis.commands.core import Script

from orchestrator import names
from orchestrator.store.records import StepMessage


@dataclass(frozen=True)
class Due:
    """What one shard's indexes hold that is due (``Outbox.due``)."""

    shard: int
    now: float  # the shard node's time
    leases: list[tuple[str, str]]  # (job id, step id) whose lease expired
    messages: list[StepMessage]  # outbox messages to send again
    watched: list[str]  # "plan|finalize JOB_ID" whose time came


class Outbox:
    """The deployment-wide indexes of the store (``Store.outbox``)."""

    def __init__(
        self, client: redis.Redis, scripts: dict[str, Script], redeliver_seconds: float
    ) -> None:
        self.redis = client
        self._sent = scripts["sent"]  # sent.lua
        self._scan = scripts["scan"]  # scan.lua
        self.redeliver_seconds = redeliver_seconds

    def now(self) -> float:
        seconds, micros = self.redis.time()
        return seconds + micros / 1_000_000

    def _keys(self, shard: int) -> list[str]:
        return [names.shard_key(name, shard) for name in (names.LEASES, names.OUTBOX, names.WATCH)]

    def due(self, limit: int = 500) -> Iterable[Due]:
        """Each shard's expired leases, due outbox messages and due watch entries."""
        for shard in range(names.SHARDS):
            now, leases, messages, watched = self._scan(keys=self._keys(shard), args=["due", limit])
            expired = [cast(tuple[str, str], tuple(m.split(" ", 1))) for m in leases]
            parsed = [StepMessage.parse(raw) for raw in messages]
            yield Due(shard, float(now), expired, parsed, list(watched))

    def unclaimed(self, agents: Collection[str] | None = None) -> list[StepMessage]:
        """The step messages (for ``agents``, or all) published and not yet claimed, or
        about to be published: those a worker that died may have taken with it."""
        found = []
        for shard in range(names.SHARDS):
            _, waiting = self._scan(keys=self._keys(shard), args=["waiting", 0])
            found += [StepMessage.parse(raw) for raw in waiting]
        return [m for m in found if agents is None or m.agent in agents]

    def restarted(self) -> bool:
        """Whether Redis is another process than when this was last asked (by anyone); on
        a cluster, whether any primary is (a failover, or a restart).

        A Redis that was killed may have lost replies on their way, messages being handed
        to workers among them. False where the server does not say (a managed Redis may
        refuse INFO or hide its run id)."""
        try:
            if isinstance(self.redis, redis.RedisCluster):
                infos: Any = self.redis.info("server", target_nodes=redis.RedisCluster.PRIMARIES)
                run_ids = sorted(str(info.get("run_id") or "") for info in infos.values())
                run_id = ",".join(run_ids) if all(run_ids) else ""
            else:
                run_id = self.redis.info("server").get("run_id")
        except redis.ResponseError:
            return False
        if not run_id:
            return False
        return self.redis.set(names.SERVER_KEY, run_id, get=True) not in (run_id, None)

    def note_reconnection(self) -> None:
        """A worker's consumer reconnected to the broker: what was published while it was
        away may be lost (a publish that failed, or one the broker took as it stopped)."""
        self.redis.set(names.RECONNECTED_KEY, "1")

    def reconnected(self) -> bool:
        """Whether a worker reconnected to the broker since this was last asked (by anyone)."""
        return self.redis.getdel(names.RECONNECTED_KEY) is not None

    def sent(self, messages: Sequence[StepMessage]) -> None:
        """The messages are on their queues: send them again only if no worker claims them."""
        by_shard: dict[int, list[str]] = defaultdict(list)
        for message in messages:
            by_shard[names.shard_of(message.job_id)].append(message.raw)
        for shard, raws in by_shard.items():
            outbox = names.shard_key(names.OUTBOX, shard)
            self._sent(keys=[outbox], args=[self.redeliver_seconds, *raws])

    def rewatch(self, member: str, at: float) -> None:
        job_id = member.partition(" ")[2]
        self.redis.zadd(names.job_index(names.WATCH, job_id), {member: at}, xx=True)

    def try_lock(self, key: str, seconds: float) -> bool:
        return bool(self.redis.set(key, "1", nx=True, px=max(1, int(seconds * 1000))))

    def newest(self, name: str, count: int) -> list[dict[str, str]]:
        """The newest ``count`` entries of a sharded stream (``names.DEAD_LETTERS``)."""
        entries: list[tuple[tuple[int, int], dict[str, str]]] = []
        for shard in range(names.SHARDS):
            reply: Any = self.redis.xrevrange(names.shard_key(name, shard), count=count)
            entries += [(_stream_id(entry_id), data) for entry_id, data in reply]
        return [data for _, data in heapq.nlargest(count, entries, key=lambda entry: entry[0])]

    def job_ids(self) -> list[str]:
        """Every job in the index, oldest first (the index keeps finished jobs too)."""
        dated: list[tuple[float, str]] = []
        for shard in range(names.SHARDS):
            reply: Any = self.redis.zrange(
                names.shard_key(names.JOBS, shard), 0, -1, withscores=True
            )
            dated += [(score, job_id) for job_id, score in reply]
        return [job_id for _, job_id in sorted(dated)]


def _stream_id(entry_id: str) -> tuple[int, int]:
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)
