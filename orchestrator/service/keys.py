"""API keys: each is a tenant, with its collections and limits. Only a key's hash is stored.

>>> keys = Keys(redis_client)
>>> made = keys.create("helpdesk", collections=["demo"])   # made.secret is shown once
>>> keys.authenticate(made.secret).name
'helpdesk'
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import cast

import redis
import redis.asyncio
from pydantic import BaseModel, Field

from orchestrator.errors import UserError
from orchestrator.service import wire

PREFIX = "ck_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class KeyRecord(BaseModel):
    """What is stored of a key: never the key itself."""

    id: str
    name: str
    collections: list[str] = Field(
        default_factory=list, description="The collections it may search; empty: all."
    )
    requests_per_minute: int | None = Field(default=None, description="None: the server's.")
    concurrent_jobs: int | None = Field(default=None, description="None: the server's.")
    created_at: float


class CreatedKey(BaseModel):
    record: KeyRecord
    secret: str = Field(description="The key: shown once, stored nowhere.")


def digest(secret: str) -> str:
    # Keys are 256 random bits: a plain hash cannot be reversed, and is quick to check.
    return hashlib.sha256(secret.encode()).hexdigest()


class Keys:
    """The deployment's keys, in its Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def create(
        self,
        name: str,
        *,
        collections: list[str] | None = None,
        requests_per_minute: int | None = None,
        concurrent_jobs: int | None = None,
    ) -> CreatedKey:
        if not _NAME.fullmatch(name):
            raise UserError(
                f"a key's name is letters, digits, '_', '.' and '-' (at most 64), not {name!r}"
            )
        if any(record.name == name for record in self.list()):
            raise UserError(f"there is a key named {name!r} already: revoke it or pick another")
        key_id = secrets.token_hex(6)
        secret = PREFIX + secrets.token_urlsafe(32)
        record = KeyRecord(
            id=key_id,
            name=name,
            collections=sorted(set(collections or [])),
            requests_per_minute=requests_per_minute,
            concurrent_jobs=concurrent_jobs,
            created_at=time.time(),
        )
        hashed = digest(secret)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(wire.KEYS_KEY, hashed, record.model_dump_json())
        pipe.hset(wire.KEY_IDS_KEY, key_id, hashed)
        pipe.set(wire.KEYS_MADE_KEY, "1")
        pipe.execute()
        return CreatedKey(record=record, secret=secret)

    def list(self) -> list[KeyRecord]:
        raw = cast(dict[str, str], self.redis.hgetall(wire.KEYS_KEY))
        records = [KeyRecord.model_validate_json(value) for value in raw.values()]
        return sorted(records, key=lambda record: record.created_at)

    def revoke(self, name_or_id: str) -> KeyRecord:
        """Remove a key (by its name or id): it is refused from the next request on."""
        for record in self.list():
            if name_or_id in (record.name, record.id):
                hashed = self.redis.hget(wire.KEY_IDS_KEY, record.id)
                pipe = self.redis.pipeline(transaction=True)
                if hashed is not None:
                    pipe.hdel(wire.KEYS_KEY, str(hashed))
                pipe.hdel(wire.KEY_IDS_KEY, record.id)
                pipe.execute()
                return record
        raise UserError(f"no key named {name_or_id!r} (`celeriac keys list` shows them)")

    def authenticate(self, secret: str) -> KeyRecord | None:
        raw = self.redis.hget(wire.KEYS_KEY, digest(secret))
        return KeyRecord.model_validate_json(str(raw)) if raw is not None else None

    def in_use(self) -> bool:
        """Whether a key was ever made here: from then on, every request needs one."""
        return bool(self.redis.exists(wire.KEYS_MADE_KEY))


async def look_up(client: redis.asyncio.Redis, secret: str | None) -> tuple[KeyRecord | None, bool]:
    """(the record of the key ``secret``, None if it is unknown; whether keys are in use
    here), in one round trip: what every request asks."""
    pipe = client.pipeline(transaction=False)
    pipe.exists(wire.KEYS_MADE_KEY)
    if secret is not None:
        pipe.hget(wire.KEYS_KEY, digest(secret))
    replies = await pipe.execute()
    raw = replies[1] if secret is not None else None
    record = KeyRecord.model_validate_json(str(raw)) if raw is not None else None
    return record, bool(replies[0])
