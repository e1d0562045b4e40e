"""What every request of ``celeriac serve`` depends on: the ``Service`` (the SDK's client,
keys, tenants, an async Redis for streams) and the tenant a request's key names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis
import redis.asyncio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orchestrator.client import Client
from orchestrator.service import wire
from orchestrator.service.errors import ServiceError
from orchestrator.service.keys import KeyRecord, Keys, look_up
from orchestrator.service.tenants import Tenant, Tenants
from orchestrator.settings import Settings

# Each follower of a stream holds one connection while it waits for the next event.
STREAM_CONNECTIONS = 2000
STREAM_READ_TIMEOUT = 30.0  # seconds; a stream blocks in Redis up to KEEPALIVE_MS


@dataclass
class Service:
    """What every request uses: the SDK's client, keys, tenants, an async Redis for streams."""

    settings: Settings
    client: Client
    keys: Keys
    tenants: Tenants
    streams: redis.asyncio.Redis
    allow_anonymous: bool

    @classmethod
    def build(cls, settings: Settings, *, allow_anonymous: bool) -> Service:
        client = Client(settings)
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            client.url,
            max_connections=STREAM_CONNECTIONS,
            timeout=30,
            decode_responses=True,
            socket_connect_timeout=5,
            # Above the streams' blocking reads (10 s): redis-py's asyncio default of 5 s
            # broke a stream whenever a step was quiet for that long.
            socket_timeout=STREAM_READ_TIMEOUT,
        )
        return cls(
            settings=settings,
            client=client,
            keys=Keys(client.runtime.redis),
            tenants=Tenants(client.runtime.redis, keep_seconds=settings.result_ttl_seconds),
            streams=redis.asyncio.Redis.from_pool(pool),
            allow_anonymous=allow_anonymous,
        )

    @property
    def redis(self) -> redis.Redis:
        return self.client.runtime.redis

    def anonymous(self) -> Tenant:
        return Tenant(
            id=wire.ANONYMOUS,
            name=wire.ANONYMOUS,
            collections=(),
            requests_per_minute=self.settings.service_requests_per_minute,
            concurrent_jobs=self.settings.service_concurrent_jobs,
        )

    async def aclose(self) -> None:
        await self.streams.aclose()
        self.client.close()


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


bearer = HTTPBearer(auto_error=False, description="A key made by `celeriac keys create NAME`.")


async def current_tenant(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Tenant:
    """The key's tenant, its request counted; 401 without a valid key (where keys exist)."""
    service = service_of(request)
    secret = credentials.credentials if credentials else None
    record, in_use = await look_up(service.streams, secret)
    tenant = _tenant(service, credentials, record, in_use)
    await service.tenants.count_request(service.streams, tenant)
    return tenant


def _tenant(
    service: Service,
    credentials: HTTPAuthorizationCredentials | None,
    record: KeyRecord | None,
    in_use: bool,
) -> Tenant:
    challenge = {"WWW-Authenticate": "Bearer"}
    if record is None and service.allow_anonymous and not in_use:
        # Open (loopback or --insecure, and no keys yet): a client that must send some
        # key, as the openai SDK must, is served too.
        return service.anonymous()
    if credentials is None:
        raise ServiceError(
            401,
            "this server needs a key: send `Authorization: Bearer KEY` "
            "(`celeriac keys create NAME` makes one)",
            type="unauthorized",
            headers=challenge,
        )
    if record is None:
        raise ServiceError(401, "unknown or revoked key", type="unauthorized", headers=challenge)
    return Tenant(
        id=record.id,
        name=record.name,
        collections=tuple(record.collections),
        requests_per_minute=record.requests_per_minute
        or service.settings.service_requests_per_minute,
        concurrent_jobs=record.concurrent_jobs or service.settings.service_concurrent_jobs,
    )


TenantDep = Annotated[Tenant, Depends(current_tenant)]
ServiceDep = Annotated[Service, Depends(service_of)]
