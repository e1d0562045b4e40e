"""Job state in Redis: records, plans, step states, outputs, events.

Every change of state is one Lua script (``orchestrator/store/lua``), so it is atomic
and appends its events in the same step. Messages a change makes due are
written to an outbox in that same script; whoever ran it publishes them and
removes them, and the sweeper publishes whatever a crash left behind. What the
scripts return, and how the records read back, is ``orchestrator.store.records``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from functools import cache
from importlib import resources
from typing import Any, cast

import redis

from orchestrator import names
from orchestrator.errors import JobNotFound
from orchestrator.models import (
    Approval,
    Budget,
    DeadLetter,
    Event,
    Goal,
    JobResult,
    JobStatus,
    Plan,
    Replan,
    Score,
    Step,
    TokenUsage,
)
from orchestrator.store.approvals import ApprovalRecords
from orchestrator.store.outbox import Outbox
from orchestrator.store.records import (
    Claim,
    Followups,
    Renewal,
    dead_letter,
    event,
    job_result,
    layout,
)
from orchestrator.store.roster import Roster

STANDALONE_SCRIPTS = frozenset({"sent", "scan"})
PRELUDE = "common"  # prepended to every other script; not one itself


def _script_names() -> list[str]:
    """Every script in ``lua/``: a new one is a new file."""
    folder = resources.files("orchestrator.store") / "lua"
    stems = [e.name.removesuffix(".lua") for e in folder.iterdir() if e.name.endswith(".lua")]
    return sorted(stem for stem in stems if stem != PRELUDE)


@cache
def _lua(name: str) -> str:
    folder = resources.files("orchestrator.store") / "lua"
    body = (folder / f"{name}.lua").read_text()
    if name in STANDALONE_SCRIPTS:
        return body
    return (folder / f"{PRELUDE}.lua").read_text() + "\n" + body


class Store:
    """All reads and writes of celeriac's state in one Redis."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        grace_seconds: float,
        result_ttl: int,
        redeliver_seconds: float = 300.0,
    ) -> None:
        self.redis = client
        self.grace_seconds = grace_seconds
        self.result_ttl = result_ttl
        self.redeliver_seconds = redeliver_seconds
        self.roster = Roster(client)
        self._scripts = {name: client.register_script(_lua(name)) for name in _script_names()}
        self.outbox = Outbox(client, self._scripts, redeliver_seconds)
        self.approvals = ApprovalRecords(client, self._run, result_ttl)

    def _run(self, script: str, job_id: str, *args: Any, more: tuple[str, ...] = ()) -> Any:
        # ``more``: more indexes of the job's shard (names.JOBS, ...), as KEYS[5...].
        indexes = (names.OUTBOX, names.WATCH, names.LEASES, *more)
        keys = [names.job_key(job_id), *(names.job_index(name, job_id) for name in indexes)]
        return self._scripts[script](keys=keys, args=[job_id, self.grace_seconds, *args])

    # -- jobs -------------------------------------------------------------

    def create_job(
        self,
        job_id: str,
        plan: Plan | None,
        goal: Goal | None = None,
        budget: Budget | None = None,
        threshold: float | None = None,
        approval: Approval = "none",
        approval_timeout: float = 86400.0,
        trace: str = "",
    ) -> Followups | str | None:
        """A job for a plan, running at once (returns what its roots made due) or awaiting
        approval ('awaiting_approval'), or a pending job for a goal the planner is to plan
        (``plan`` None; returns None)."""
        budget = budget or Budget()
        reply = self._run(
            "create",
            job_id,
            plan.model_dump_json() if plan else "",
            goal.model_dump_json() if goal else "",
            "" if budget.tokens is None else budget.tokens,
            "" if budget.cost is None else budget.cost,
            "" if threshold is None else repr(threshold),
            json.dumps(layout(plan.steps)) if plan else "",
            (plan.answer_from or "") if plan else "",
            approval,
            repr(approval_timeout),
            trace,
            more=(names.JOBS,),
        )
        if isinstance(reply, list):  # with a plan: start.lua's reply, or awaiting approval
            return Followups.parse_started(reply)
        return None

    def start_job(self, job_id: str, plan: Plan, planner: str = "") -> Followups | str:
        """Write the steps of a pending job and queue its roots; else the job's status.

        ``planner`` names who made ``plan`` for a goal; the plan is then recorded too.
        """
        reply = self._run(
            "start",
            job_id,
            json.dumps(layout(plan.steps)),
            plan.answer_from or "",
            plan.model_dump_json() if planner else "",
            planner,
        )
        return Followups.parse_started(reply)

    def extend_job(
        self,
        job_id: str,
        plan: Plan,
        new: Sequence[Step],
        replans: Sequence[Replan],
        proposal: str = "",
    ) -> Followups | str:
        """Add ``new`` steps to a running job whose steps have all ended (a replanning):
        ``plan`` is the job's plan with them, ``replans`` its replannings with this one.
        Returns what became due, else why not (the job's status, or 'stale'); a job that
        asks for approval waits instead ('awaiting_approval'), ``proposal`` recorded."""
        reply = self._run(
            "extend",
            job_id,
            json.dumps(layout(new)),
            plan.answer_from or "",
            plan.model_dump_json(),
            json.dumps([replan.model_dump() for replan in replans]),
            len(replans) - 1,
            proposal,
        )
        return Followups.parse_started(reply)

    def finish_job(
        self,
        job_id: str,
        status: JobStatus,
        answer: Any,
        error: str = "",
        score: float | None = None,
    ) -> bool:
        reply = self._run(
            "finish",
            job_id,
            status,
            json.dumps(answer),
            error,
            self.result_ttl,
            "" if score is None else repr(score),
        )
        return bool(reply == "ok")

    def cancel_job(self, job_id: str) -> JobStatus:
        """Cancel a job that has not ended; return its status after the call."""
        status = str(self._run("cancel", job_id, self.result_ttl))
        if status == "missing":
            raise JobNotFound(job_id)
        return cast(JobStatus, status)

    def job_fields(self, job_id: str) -> dict[str, str]:
        fields = cast(dict[str, str], self.redis.hgetall(names.job_key(job_id)))
        if not fields:
            raise JobNotFound(job_id)
        return fields

    def job_status(self, job_id: str) -> JobStatus:
        status = self.redis.hget(names.job_key(job_id), "status")
        if status is None:
            raise JobNotFound(job_id)
        return cast(JobStatus, status)

    def trace(self, job_id: str) -> str:
        """The job's W3C traceparent ('' when it is not traced)."""
        return str(self.redis.hget(names.job_key(job_id), "trace") or "")

    def plan(self, job_id: str) -> Plan | None:
        """The job's plan; None for a goal not planned yet."""
        raw = self.job_fields(job_id).get("plan")
        return Plan.model_validate_json(raw) if raw else None

    def goal(self, job_id: str) -> Goal | None:
        raw = self.job_fields(job_id).get("goal")
        return Goal.model_validate_json(raw) if raw else None

    # -- steps ------------------------------------------------------------

    def claim(
        self,
        job_id: str,
        step_id: str,
        dispatch: int,
        agent: str,
        worker: str,
        lease: float,
        *,
        max_attempts: int,
    ) -> Claim:
        return Claim.parse(
            self._run("claim", job_id, step_id, dispatch, worker, lease, agent, max_attempts)
        )

    def complete(
        self,
        job_id: str,
        step_id: str,
        output: Any,
        scores: Sequence[Score] = (),
        usage: TokenUsage | None = None,
        *,
        worker: str = "",
        lease: float = 0.0,
        chain: Collection[str] = (),
    ) -> Followups:
        """Record the step's output (and what its model calls spent that is not yet
        counted: ``usage``) and queue what became ready. The first ready dependent of an
        agent type in ``chain`` is claimed at once for ``worker``, leased for ``lease``
        seconds (``Followups.chained``): it runs next there, and was never published.
        The completion of the job's last step reads the job too (``Followups.ended``)."""
        scored = json.dumps([score.model_dump() for score in scores]) if scores else ""
        used = usage or TokenUsage()
        spent = (used.prompt_tokens, used.completion_tokens, used.cost)
        data = (json.dumps(output), scored, *spent, worker, lease, *sorted(chain))
        return Followups.parse(self._run("complete", job_id, step_id, *data), job_id)

    def fail(
        self,
        job_id: str,
        step_id: str,
        dispatch: int,
        error: str,
        *,
        retry_delay: float | None,
        max_attempts: int,
    ) -> Followups:
        delay = -1 if retry_delay is None else retry_delay
        reply = self._run(
            "fail",
            job_id,
            step_id,
            dispatch,
            error,
            delay,
            max_attempts,
            more=(names.DEAD_LETTERS,),
        )
        return Followups.parse(reply)

    def keep_attempt(
        self, job_id: str, step_id: str, attempt: int, output: Any, scores: Sequence[Score]
    ) -> None:
        """Record a scored attempt that did not count (it scored under the threshold):
        its output and scores stand until a later attempt's replace them."""
        self._run(
            "keep",
            job_id,
            step_id,
            attempt,
            json.dumps(output),
            json.dumps([score.model_dump() for score in scores]),
        )

    def stopped(self, job_id: str, step_id: str, dispatch: int) -> bool:
        """A running step of a cancelled job stopped early; True if it was recorded so."""
        return bool(self._run("stopped", job_id, step_id, dispatch))

    def expire(self, job_id: str, step_id: str, max_attempts: int) -> Followups:
        return Followups.parse(
            self._run("expire", job_id, step_id, max_attempts, more=(names.DEAD_LETTERS,))
        )

    def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """The steps that failed for good, newest first (across every shard)."""
        return [dead_letter(data) for data in self.outbox.newest(names.DEAD_LETTERS, count)]

    def renew(self, job_id: str, held: list[tuple[str, int]], lease: float) -> Renewal:
        """Extend leases; return the job's status and the steps no longer held."""
        flat = [part for step_id, dispatch in held for part in (step_id, dispatch)]
        return Renewal.parse(self._run("renew", job_id, lease, *flat))

    def progress(
        self, job_id: str, step_id: str, dispatch: int, fraction: float | None, message: str
    ) -> None:
        self._run(
            "progress", job_id, step_id, dispatch, "" if fraction is None else fraction, message
        )

    def add_usage(
        self, job_id: str, step_id: str | None, prompt: int, completion: int, cost: float
    ) -> None:
        """Count a model call's tokens and cost for the step (if any) and for its job."""
        pipe = self.redis.pipeline(transaction=True)
        keys = [names.job_key(job_id)]
        if step_id is not None:
            keys.append(names.step_key(job_id, step_id))
        for key in keys:
            pipe.hincrby(key, "prompt_tokens", prompt)
            pipe.hincrby(key, "completion_tokens", completion)
            pipe.hincrbyfloat(key, "cost", cost)
        pipe.execute()

    def spending(self, job_id: str) -> tuple[TokenUsage, Budget]:
        """What the job has spent on model calls so far, and its budget."""
        fields = ("prompt_tokens", "completion_tokens", "cost", "budget_tokens", "budget_cost")
        values: list[str | None] = cast(Any, self.redis.hmget(names.job_key(job_id), fields))
        prompt, completion, cost, tokens, money = values
        used = TokenUsage.of(int(prompt or 0), int(completion or 0), float(cost or 0))
        budget = Budget(
            tokens=int(tokens) if tokens else None, cost=float(money) if money else None
        )
        return used, budget

    def outputs(self, job_id: str, step_ids: list[str]) -> dict[str, Any]:
        if not step_ids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for step_id in step_ids:
            pipe.hget(names.step_key(job_id, step_id), "output")
        raws = pipe.execute()
        return {sid: json.loads(raw) for sid, raw in zip(step_ids, raws, strict=True) if raw}

    def step_records(self, job_id: str, step_ids: list[str]) -> dict[str, dict[str, str]]:
        pipe = self.redis.pipeline(transaction=False)
        for step_id in step_ids:
            pipe.hgetall(names.step_key(job_id, step_id))
        return dict(zip(step_ids, pipe.execute(), strict=True))

    def result(self, job_id: str) -> JobResult:
        """The job as it stands now: finished or not (read in one round trip)."""
        reply = self._scripts["read"](keys=[names.job_key(job_id)])
        if not reply:
            raise JobNotFound(job_id)
        return job_result(job_id, reply)

    # -- events -----------------------------------------------------------

    def read_events(
        self, job_id: str, after: str = "0", block_ms: int | None = None
    ) -> list[Event]:
        key = names.events_key(job_id)
        entries: list[tuple[str, dict[str, str]]]
        if block_ms is None:
            entries = cast(Any, self.redis.xrange(key, min=f"({after}" if after != "0" else "-"))
        else:
            reply: Any = self.redis.xread({key: after}, block=block_ms, count=1000)
            entries = reply[0][1] if reply else []
        return [event(job_id, entry_id, data) for entry_id, data in entries]

    def wait_end(self, job_id: str, block_ms: int | None) -> bool:
        """Block until the job has ended (True) or ``block_ms`` passed (False); None:
        whether it has ended, at once."""
        return bool(self.redis.xread({names.end_key(job_id): "0"}, count=1, block=block_ms))

    def planning_attempt(self, job_id: str) -> int:
        """Count one more failed attempt at planning the job; return how many there were."""
        return int(self.redis.hincrby(names.job_key(job_id), "planning_attempts", 1))
