"""What a step costs Redis: commands, Redis CPU and memory, per step and per job.

On a private redis-server and real worker processes (``Deployment``), for many one-step
jobs and for one job of N noop steps (a fan-out of N independent steps, and a chain where
each step takes the previous one's text), the measured part is bracketed by
``CONFIG RESETSTAT`` and ``INFO commandstats`` / ``INFO cpu`` / ``INFO memory``:

* commands: every call in commandstats, summed (commands run inside a Lua script are
  counted as well as the EVALSHA that ran them), and the script calls alone;
* Redis usec: commandstats ``usec`` summed. A script's usec already includes its inner
  commands', which are counted again, so the sum is an upper bound on time in commands;
  it leaves out reading, parsing and replying, which ``INFO cpu`` (the redis-server
  process's user + system CPU) includes. Both imply a ceiling for one Redis node when
  Redis is the bottleneck: steps/s = 1e6 / usec per step;
* memory: ``used_memory`` after the job finished minus before it was submitted (what
  the finished job keeps), and which of the keys it left expire (``result_ttl_seconds``).

Everything the deployment does meanwhile is counted (workers' heartbeats, the sweeper,
the client waiting for results); the idle rate is measured and printed beside it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from benchmarks.deployment import JOB_TIMEOUT, BenchmarkError, Deployment, check
from benchmarks.report import Column, Table, fixed
from orchestrator.settings import Settings

SCRIPT_COMMANDS = ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro")
IDLE_SECONDS = 3.0


@dataclass(frozen=True)
class Sizes:
    jobs: int  # one-step jobs, submitted back to back
    steps: tuple[int, ...]  # steps of one job, fan-out and chain


FULL = Sizes(jobs=10_000, steps=(1, 100, 1000, 10_000))
QUICK = Sizes(jobs=100, steps=(1, 100))


def one_step_plan() -> dict[str, Any]:
    return {"steps": [{"id": "a", "agent": "noop", "input": {"text": "x"}}]}


def fanout_plan(steps: int) -> dict[str, Any]:
    return {
        "steps": [{"id": f"s{i}", "agent": "noop", "input": {"text": "x"}} for i in range(steps)]
    }


def chain_plan(steps: int) -> dict[str, Any]:
    """``s0`` takes "x"; each later step takes the text of the one before it."""
    chain = [{"id": "s0", "agent": "noop", "input": {"text": "x"}}]
    chain += [
        {"id": f"s{i}", "agent": "noop", "input": {"text": {"$from": f"s{i - 1}", "path": "text"}}}
        for i in range(1, steps)
    ]
    return {"steps": chain}


@dataclass(frozen=True)
class Snapshot:
    """Redis's counters at one moment."""

    at: float
    calls: int
    script_calls: int
    usec: int
    cpu_s: float
    memory: int
    commands: dict[str, tuple[int, int]]  # name: (calls, usec)


def snapshot(client: redis.Redis) -> Snapshot:
    """Counters first, so that nothing this reads is counted; ``info`` and ``config``
    (this benchmark's own calls) are left out of the sums."""
    stats: dict[str, Any] = client.info("commandstats")
    cpu: dict[str, Any] = client.info("cpu")
    commands = {
        name.removeprefix("cmdstat_"): (int(entry["calls"]), int(entry["usec"]))
        for name, entry in stats.items()
        if not name.startswith(("cmdstat_info", "cmdstat_config"))
    }
    return Snapshot(
        at=time.perf_counter(),
        calls=sum(calls for calls, _ in commands.values()),
        script_calls=sum(calls for name, (calls, _) in commands.items() if name in SCRIPT_COMMANDS),
        usec=sum(usec for _, usec in commands.values()),
        cpu_s=float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
        memory=int(client.info("memory")["used_memory"]),
        commands=commands,
    )


def keys(client: redis.Redis) -> frozenset[str]:
    return frozenset(str(key) for key in client.scan_iter(count=1000))


def idle_rate(client: redis.Redis) -> dict[str, float]:
    """Commands and Redis usec per second with workers up and no job in flight."""
    client.config_resetstat()
    before = snapshot(client)
    time.sleep(IDLE_SECONDS)
    after = snapshot(client)
    seconds = after.at - before.at
    return {
        "calls_per_s": (after.calls - before.calls) / seconds,
        "usec_per_s": (after.usec - before.usec) / seconds,
        "cpu_usec_per_s": (after.cpu_s - before.cpu_s) * 1e6 / seconds,
    }


def expiry(client: redis.Redis, new_keys: frozenset[str]) -> dict[str, Any]:
    """How many of the keys a run left behind expire, and when, and which never do."""
    keys = sorted(new_keys)
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.ttl(key)
        pipe.memory_usage(key, samples=0)
    replies = pipe.execute()
    ttls = dict(zip(keys, (int(ttl) for ttl in replies[0::2]), strict=True))
    sizes = dict(zip(keys, (int(size or 0) for size in replies[1::2]), strict=True))
    expiring = [ttl for ttl in ttls.values() if ttl > 0]
    lasting = sorted(key for key, ttl in ttls.items() if ttl == -1)
    return {
        "new_keys": len(ttls),
        "expiring_keys": len(expiring),
        "ttl_min_s": min(expiring) if expiring else None,
        "ttl_max_s": max(expiring) if expiring else None,
        "expiring_bytes": sum(sizes[key] for key, ttl in ttls.items() if ttl > 0),
        "lasting_keys": len(lasting),
        "lasting_examples": lasting[:10],
    }


def cost_row(
    client: redis.Redis, case: str, steps: int, jobs: int, before: Snapshot, held: frozenset[str]
) -> dict[str, Any]:
    """The figures between ``before`` and now, per step and per job."""
    after = snapshot(client)
    usec_per_step = (after.usec - before.usec) / steps
    cpu_usec_per_step = (after.cpu_s - before.cpu_s) * 1e6 / steps
    row: dict[str, Any] = {
        "case": case,
        "steps": steps,
        "jobs": jobs,
        "wall_s": after.at - before.at,
        "ms_per_step": (after.at - before.at) * 1000 / steps,
        "calls_per_step": (after.calls - before.calls) / steps,
        "script_calls_per_step": (after.script_calls - before.script_calls) / steps,
        "usec_per_step": usec_per_step,
        "cpu_usec_per_step": cpu_usec_per_step,
        "ceiling_steps_per_s": 1e6 / usec_per_step if usec_per_step else None,
        "cpu_ceiling_steps_per_s": 1e6 / cpu_usec_per_step if cpu_usec_per_step > 0 else None,
        "memory_per_job_bytes": (after.memory - before.memory) / jobs,
        "memory_per_step_bytes": (after.memory - before.memory) / steps,
    }
    row["top_commands"] = top_commands(before, after, steps)
    row.update(expiry(client, keys(client) - held))
    row["key_bytes_per_job"] = row["expiring_bytes"] / jobs
    row["key_bytes_per_step"] = row["expiring_bytes"] / steps
    return row


def top_commands(before: Snapshot, after: Snapshot, steps: int) -> dict[str, list[float]]:
    """The eight commands that took most usec: [calls per step, usec per step]."""
    spent = {
        name: (
            calls - before.commands.get(name, (0, 0))[0],
            usec - before.commands.get(name, (0, 0))[1],
        )
        for name, (calls, usec) in after.commands.items()
    }
    ranked = sorted(spent.items(), key=lambda item: -item[1][1])[:8]
    return {name: [calls / steps, usec / steps] for name, (calls, usec) in ranked}


def measure(
    live: Deployment, client: redis.Redis, case: str, plans: list[dict[str, Any]], steps: int
) -> dict[str, Any]:
    """Submit every plan back to back, wait for each, and what it all cost Redis."""
    held = keys(client)
    client.config_resetstat()
    before = snapshot(client)
    handles = [live.submit(plan) for plan in plans]
    for handle in handles:
        result = check(handle.wait(timeout=JOB_TIMEOUT))
        if len(result.steps) != len(plan_steps(plans[0])):
            raise BenchmarkError(f"job {result.job_id}: {len(result.steps)} steps came back")
    return cost_row(client, case, steps, len(plans), before, held)


def plan_steps(plan: dict[str, Any]) -> list[Any]:
    return list(plan["steps"])


def cases(sizes: Sizes) -> list[tuple[str, list[dict[str, Any]], int]]:
    """(case, plans, steps in all) for every measured run."""
    runs = [(f"{sizes.jobs:,} jobs x 1 step", [one_step_plan()] * sizes.jobs, sizes.jobs)]
    for steps in sizes.steps:
        runs.append((f"1 job, fan-out of {steps:,}", [fanout_plan(steps)], steps))
        runs.append((f"1 job, chain of {steps:,}", [chain_plan(steps)], steps))
    return runs


def table() -> Table:
    return Table(
        "What a step costs one Redis (commandstats, INFO cpu, INFO memory; noop steps)",
        [
            Column("case", "case", left=True),
            Column("ms_per_step", "wall ms/step", fixed(2)),
            Column("calls_per_step", "commands/step", fixed(1), better="lower"),
            Column("script_calls_per_step", "scripts/step", fixed(1)),
            Column("usec_per_step", "cmd usec/step", fixed(0)),
            Column("ceiling_steps_per_s", "ceiling steps/s", fixed(0)),
            Column("cpu_usec_per_step", "CPU usec/step", fixed(0), better="lower"),
            Column("cpu_ceiling_steps_per_s", "CPU ceiling steps/s", fixed(0)),
            Column("memory_per_job_bytes", "bytes/job", fixed(0)),
            Column("memory_per_step_bytes", "bytes/step", fixed(0)),
            Column("key_bytes_per_job", "key bytes/job", fixed(0)),
            Column("key_bytes_per_step", "key bytes/step", fixed(0), better="lower"),
            Column("expiring_keys", "keys expiring"),
            Column("lasting_keys", "keys lasting"),
        ],
        key=("case",),
    )


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    sizes = QUICK if quick else FULL
    result = table()
    biggest = max(sizes.steps)
    with Deployment(workers=1, max_plan_steps=max(biggest, 1000)) as live:
        assert live.server is not None
        client = redis.Redis.from_url(live.server.url, decode_responses=True)
        try:
            live.run(fanout_plan(50))  # warm up: imports, pools, threads
            idle = idle_rate(client)
            for case, plans, steps in cases(sizes):
                result.rows.append(measure(live, client, case, plans, steps))
        finally:
            client.close()
    ttl = Settings.model_fields["result_ttl_seconds"].default
    result.notes += notes(idle, ttl)
    return [result]


def notes(idle: dict[str, float], ttl: int) -> list[str]:
    return [
        "1 worker process (`celeriac worker` defaults); N jobs submitted back to back, then "
        "each waited for; a chain step takes the text of the one before it",
        "commands: every call in INFO commandstats, those inside Lua scripts included "
        "(scripts/step: the EVALSHA calls alone)",
        "cmd usec: commandstats usec summed, an upper bound on time in commands (a script's "
        "usec includes its inner commands', counted again); CPU usec: the redis-server "
        "process's user+system CPU (INFO cpu), which adds reading, parsing and replying",
        "ceiling = 1e6 / usec per step: steps/s of one Redis node if Redis were the only "
        "bottleneck and had a core to itself",
        f"idle, workers up and no job: {idle['calls_per_s']:.0f} commands/s, "
        f"{idle['usec_per_s']:.0f} cmd usec/s, {idle['cpu_usec_per_s']:.0f} CPU usec/s "
        "(counted in the rows, spread over their wall time)",
        "bytes: used_memory once every job finished minus before the first was submitted; "
        f"keys expiring: new keys with a TTL (result_ttl_seconds, default {ttl} s, "
        "CELERIAC_RESULT_TTL_SECONDS); key bytes: MEMORY USAGE summed over those keys "
        "(the job's own records, steadier than used_memory); keys lasting: new keys with "
        "no TTL (the per-shard job indexes, Celery's unacked set)",
        "wall time is on a shared 2-core machine (other processes' load makes it worse); "
        "commands and Redis usec per step are what matter",
    ]
