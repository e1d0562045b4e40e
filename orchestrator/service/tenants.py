"""What a tenant owns and may do: its jobs, its rate, its jobs in flight, its retries.

Every check is a few Redis commands whatever the number of jobs: the jobs in flight
are at most the key's limit, and only those are looked at.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from typing import Any, cast

import redis
import redis.asyncio

from orchestrator import names
from orchestrator.models import TERMINAL_JOB
from orchestrator.service import wire


@dataclass(frozen=True)
class Tenant:
    """Who is asking: a key's id (or ``wire.ANONYMOUS``), its collections and limits."""

    id: str
    name: str
    collections: tuple[str, ...]  # empty: every collection
    requests_per_minute: int
    concurrent_jobs: int

    def may_search(self, collection: str) -> bool:
        return not self.collections or collection in self.collections


CLAIM_SECONDS = 60


class Limited(Exception):
    """Over a limit: answered 429 with Retry-After."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Tenants:
    def __init__(self, client: redis.Redis, *, keep_seconds: int) -> None:
        self.redis = client
        self.keep_seconds = keep_seconds

    async def count_request(self, client: redis.asyncio.Redis, tenant: Tenant) -> None:
        """One more request this minute; ``Limited`` over the tenant's rate."""
        now = time.time()
        window = int(now // 60)
        key = wire.tenant_rate(tenant.id, window)
        pipe = client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, 120)
        count = int((await pipe.execute())[0])
        if count > tenant.requests_per_minute:
            raise Limited(
                f"over this key's {tenant.requests_per_minute} requests a minute",
                retry_after=max(1, math.ceil((window + 1) * 60 - now)),
            )

    def reserve(self, tenant: Tenant, placeholder: str) -> None:
        """Hold a place among the tenant's jobs in flight (one round trip while there is
        room); ``Limited`` when they are full even once the jobs that ended are let go."""
        key = wire.tenant_active(tenant.id)
        member = f"reserved:{placeholder}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(key, {member: time.time() - self.keep_seconds})
        pipe.zcard(key)
        if int(pipe.execute()[1]) <= tenant.concurrent_jobs:
            return
        self.redis.zrem(key, member)
        self._let_go(key)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(key, {member: time.time() - self.keep_seconds})
        pipe.zcard(key)
        if int(pipe.execute()[1]) > tenant.concurrent_jobs:
            self.redis.zrem(key, member)
            raise Limited(f"this key has {tenant.concurrent_jobs} jobs running already", 1)

    def _let_go(self, key: str) -> None:
        """Drop the jobs that have ended, and reservations a crashed gateway left."""
        held = cast(list[str], self.redis.zrange(key, 0, -1))
        jobs = [job for job in held if not job.startswith("reserved:")]
        if jobs:
            pipe = self.redis.pipeline(transaction=False)
            for job in jobs:
                pipe.hget(names.job_key(job), "status")
            ended = [
                job
                for job, status in zip(jobs, pipe.execute(), strict=True)
                if status is None or status in TERMINAL_JOB
            ]
            if ended:
                self.redis.zrem(key, *ended)
        # A reservation is scored keep_seconds in the past: one a minute old is stale.
        self.redis.zremrangebyscore(key, "-inf", time.time() - 60 - self.keep_seconds)

    def release(self, tenant: Tenant, placeholder: str, job_id: str | None) -> None:
        """Turn a reservation into the job it was for (or drop it: None)."""
        now = time.time()
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(wire.tenant_active(tenant.id), f"reserved:{placeholder}")
        if job_id is not None:
            pipe.zadd(wire.tenant_active(tenant.id), {job_id: now})
            pipe.zadd(wire.tenant_jobs(tenant.id), {job_id: now})
            pipe.zremrangebyscore(wire.tenant_jobs(tenant.id), "-inf", now - self.keep_seconds)
        pipe.execute()

    def owns(self, tenant: Tenant, job_id: str) -> bool:
        return self.redis.zscore(wire.tenant_jobs(tenant.id), job_id) is not None

    def jobs(self, tenant: Tenant, offset: int, limit: int) -> tuple[list[str], bool]:
        """The tenant's job ids, newest first, and whether there are more."""
        found = cast(
            list[str], self.redis.zrevrange(wire.tenant_jobs(tenant.id), offset, offset + limit)
        )
        return found[:limit], len(found) > limit

    # -- Idempotency-Key -------------------------------------------------------------------

    def remembered(self, tenant: Tenant, key: str, body: Any) -> tuple[str | None, bool]:
        """(the job this Idempotency-Key gave, whether it came with the same body);
        (None, True) when the key is new: it is then claimed for this request."""
        record = json.dumps({"job": None, "body": _body_hash(body)})
        redis_key = wire.idempotency(tenant.id, key)
        deadline = time.monotonic() + 10
        while True:
            # Claimed for a minute: a gateway that dies while submitting frees the key.
            if self.redis.set(redis_key, record, nx=True, ex=CLAIM_SECONDS):
                return None, True
            raw = self.redis.get(redis_key)
            if raw is not None:
                stored = json.loads(str(raw))
                if stored["job"] is not None:
                    return str(stored["job"]), stored["body"] == _body_hash(body)
            if time.monotonic() > deadline:  # the first request is still submitting
                raise Limited("a request with this Idempotency-Key is still being handled", 1)
            time.sleep(0.02)

    def remember(self, tenant: Tenant, key: str, body: Any, job_id: str | None) -> None:
        redis_key = wire.idempotency(tenant.id, key)
        if job_id is None:  # the submission failed: the key may be used again
            self.redis.delete(redis_key)
            return
        record = json.dumps({"job": job_id, "body": _body_hash(body)})
        self.redis.set(redis_key, record, ex=self.keep_seconds)


def _body_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
