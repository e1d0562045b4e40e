"""Every name on the wire: queues, task names and Redis keys, in one place.

The store is split into ``SHARDS`` shards. A job belongs to one (``shard_of``), and
every key of the job and every index a job's script touches (outbox, watch, leases,
jobs, dead letters) carries that shard's hash tag, so on a Redis Cluster each script
runs on one slot of one node, and the shards' slots are spread evenly over the slot
range the cluster divides among its primaries. The sweeper reads every shard's indexes.
The Lua scripts in ``orchestrator/store/lua`` build a job's keys from ``job_key(job_id)``
plus the suffixes below; keep the two in step.
"""

from __future__ import annotations

import binascii
from functools import cache

PREFIX = "celeriac"

ORCHESTRATOR_QUEUE = "orchestrator"

TASK_PLAN = "celeriac.plan"
TASK_RUN_STEP = "celeriac.run_step"
TASK_FINALIZE = "celeriac.finalize"
TASK_SWEEP = "celeriac.sweep"

# Suffixes of a job's keys, appended to job_key(job_id).
STEP_SUFFIX = ":step:"  # hash per step: status, attempts, dispatch, output, ...
CHILDREN_SUFFIX = ":children"  # hash step -> JSON list of dependents
WAITING_SUFFIX = ":waiting"  # hash step -> number of unfinished dependencies
EVENTS_SUFFIX = ":events"  # stream of the job's events
END_SUFFIX = ":end"  # stream with one entry once the job has ended

# Per shard: shard_key(name, shard).
JOBS = "jobs"  # zset job id -> created (unix time)
LEASES = "leases"  # zset "job_id step_id" -> lease deadline
OUTBOX = "outbox"  # zset message JSON -> time the sweeper sends it
WATCH = "watch"  # zset "plan|finalize job_id" -> time the sweeper resends it
DEAD_LETTERS = "dead-letters"  # stream of steps that failed for good
# How many shards: jobs and their indexes spread over at most this many cluster slots
# (and so primaries). Changing it strands the jobs of a running deployment.
SHARDS = 16
_SLOTS = 16384  # Redis Cluster's

# The event a step appends to its job's event stream for each piece of output it writes
# as it goes (StepContext.write): {"text": ..., "attempt": N}. The Lua scripts write the rest.
DELTA_EVENT = "step_delta"
EVENTS_MAXLEN = 100_000  # about; as common.lua's emit trims the stream

SWEEP_LOCK_KEY = f"{PREFIX}:sweep:lock"
SERVER_KEY = f"{PREFIX}:redis-run-id"  # the Redis process(es) the sweeper last saw
RECONNECTED_KEY = f"{PREFIX}:broker-reconnected"  # set by a worker back on the broker
# The roster's two keys share a tag: a heartbeat writes both in one transaction.
WORKERS_KEY = f"{PREFIX}:{{roster}}:workers"  # zset worker id -> last heartbeat
WORKER_INFO_KEY = f"{PREFIX}:{{roster}}:workers:info"  # hash worker id -> JSON
CARDS_KEY = f"{PREFIX}:agents:cards"  # hash agent type -> its capability card (JSON)
LLM_CACHE_PREFIX = f"{PREFIX}:llm:cache:"  # + digest of a call: its reply (JSON), with a TTL
LLM_BUCKET_PREFIX = f"{PREFIX}:llm:bucket:"  # + endpoint and model digest: the rate limit


def agent_queue(agent: str) -> str:
    """The Celery queue that workers serving ``agent`` consume."""
    return f"agent.{agent}"


def slot(text: str) -> int:
    """The Redis Cluster slot of a hash tag (CRC16/XMODEM, as Redis computes it)."""
    return binascii.crc_hqx(text.encode(), 0) % _SLOTS


@cache
def shard_tag(shard: int) -> str:
    """The hash tag of ``shard``: the first string ``S.N`` whose slot lies in the shard's
    sixteenth (for 16 shards) of the slot range, so shards spread over primaries evenly."""
    low, high = shard * _SLOTS // SHARDS, (shard + 1) * _SLOTS // SHARDS
    n = 0
    while not low <= slot(f"{shard}.{n}") < high:
        n += 1
    return f"{shard}.{n}"


def shard_of(job_id: str) -> int:
    return binascii.crc32(job_id.encode()) % SHARDS


def shard_key(name: str, shard: int) -> str:
    """One shard's index ``name`` (``JOBS``, ``OUTBOX``, ...)."""
    return f"{PREFIX}:{{{shard_tag(shard)}}}:{name}"


def job_index(name: str, job_id: str) -> str:
    """The index ``name`` of the shard ``job_id`` belongs to."""
    return shard_key(name, shard_of(job_id))


def job_key(job_id: str) -> str:
    return f"{PREFIX}:job:{{{shard_tag(shard_of(job_id))}}}:{job_id}"


def step_key(job_id: str, step_id: str) -> str:
    return job_key(job_id) + STEP_SUFFIX + step_id


def events_key(job_id: str) -> str:
    return job_key(job_id) + EVENTS_SUFFIX


def end_key(job_id: str) -> str:
    return job_key(job_id) + END_SUFFIX


# A conversation (the SDK's and the service's), under its own hash tag.
def conversation(conversation_id: str) -> str:
    """hash: owner, collection, created_at. Its turns are ``conversation_turns``."""
    return f"{PREFIX}:service:conversation:{{{conversation_id}}}"


def conversation_turns(conversation_id: str) -> str:
    """list of turns (JSON: message, job id, query), oldest first."""
    return conversation(conversation_id) + ":turns"
