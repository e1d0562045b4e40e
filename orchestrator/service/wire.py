"""The service's names in Redis, in one place (the job's own keys are ``orchestrator.names``).

Tenants are keys: everything a key owns is found under its id (never under the key
itself, of which only a hash is stored). The tenant of a server without keys is
``ANONYMOUS``. As a job's keys do, the keys written together share a hash tag (the keys'
``{keys}``, a tenant's ``{ID}``; a conversation's ``{ID}``, in ``orchestrator.names``), so
that on a Redis Cluster each transaction touches one slot.
"""

from __future__ import annotations

from orchestrator.names import PREFIX

SERVICE = f"{PREFIX}:service"
KEYS_KEY = f"{SERVICE}:{{keys}}:by-hash"  # hash sha256(key) -> the key's record (JSON)
KEY_IDS_KEY = f"{SERVICE}:{{keys}}:by-id"  # hash key id -> sha256(key)
# Set with the first key, never unset: revoking every key does not open a server up.
KEYS_MADE_KEY = f"{SERVICE}:{{keys}}:made"
ANONYMOUS = "anonymous"


def tenant_jobs(tenant: str) -> str:
    """zset job id -> when it was submitted: the jobs a key owns, newest last."""
    return f"{SERVICE}:tenant:{{{tenant}}}:jobs"


def tenant_active(tenant: str) -> str:
    """zset job id -> when it was submitted: the key's jobs that may still run."""
    return f"{SERVICE}:tenant:{{{tenant}}}:active"


def tenant_rate(tenant: str, window: int) -> str:
    """Requests of the key in one minute (``window``: unix minute)."""
    return f"{SERVICE}:tenant:{{{tenant}}}:rate:{window}"


def idempotency(tenant: str, key: str) -> str:
    """The job an Idempotency-Key gave, with the hash of the body it came with."""
    return f"{SERVICE}:tenant:{{{tenant}}}:idempotency:{key}"
