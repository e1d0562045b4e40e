"""Every name on the wire: queues, task names and Redis keys, in one place.

All keys of one job share the hash tag ``{JOB_ID}``, so a job lives in one
Redis Cluster slot and the Lua scripts may touch any of its keys. The Lua
scripts in ``orchestrator/lua`` build a job's keys from ``job_key(job_id)``
plus the suffixes below; keep the two in step.
"""

from __future__ import annotations

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

# The event a step appends to its job's event stream for each piece of output it writes
# as it goes (StepContext.write): {"text": ..., "attempt": N}. The Lua scripts write the rest.
DELTA_EVENT = "step_delta"
EVENTS_MAXLEN = 100_000  # about; as common.lua's emit trims the stream

JOBS_KEY = f"{PREFIX}:jobs"  # zset job id -> created (unix time)
LEASES_KEY = f"{PREFIX}:leases"  # zset "job_id step_id" -> lease deadline
OUTBOX_KEY = f"{PREFIX}:outbox"  # zset message JSON -> time the sweeper sends it
WATCH_KEY = f"{PREFIX}:watch"  # zset "plan|finalize job_id" -> time the sweeper resends it
SWEEP_LOCK_KEY = f"{PREFIX}:sweep:lock"
SERVER_KEY = f"{PREFIX}:redis-run-id"  # the Redis process the sweeper last saw
WORKERS_KEY = f"{PREFIX}:workers"  # zset worker id -> last heartbeat
WORKER_INFO_KEY = f"{PREFIX}:workers:info"  # hash worker id -> JSON
CARDS_KEY = f"{PREFIX}:agents:cards"  # hash agent type -> its capability card (JSON)
DEAD_LETTERS_KEY = f"{PREFIX}:dead-letters"  # stream of steps that failed for good


def agent_queue(agent: str) -> str:
    """The Celery queue that workers serving ``agent`` consume."""
    return f"agent.{agent}"


def job_key(job_id: str) -> str:
    return f"{PREFIX}:job:{{{job_id}}}"


def step_key(job_id: str, step_id: str) -> str:
    return job_key(job_id) + STEP_SUFFIX + step_id


def events_key(job_id: str) -> str:
    return job_key(job_id) + EVENTS_SUFFIX


def end_key(job_id: str) -> str:
    return job_key(job_id) + END_SUFFIX
