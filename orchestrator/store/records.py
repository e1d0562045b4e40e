"""celeriac's records in Redis as Python reads them: what the store's scripts return
(messages due, followups, claims, renewals), how a plan's steps are written for them,
and how a job's hashes and streams read back as results, events and dead letters.

A script replies with a flat list, for speed; this module is the one place that knows
each reply's fields by position (as the script's header comment lists them) and turns
them into named, typed values. Nothing else reads a reply by index.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from orchestrator.models import (
    Awaiting,
    DeadLetter,
    Event,
    Goal,
    JobResult,
    JobStatus,
    Plan,
    Replan,
    Score,
    Step,
    StepResult,
    TokenUsage,
    from_timestamp,
)
from orchestrator.plans import dependencies
from orchestrator.tracing import trace_id


def pairs(flat: Sequence[str]) -> dict[str, str]:
    """A hash as a Lua script returns it, ``[field, value, ...]``, as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


@dataclass(frozen=True)
class StepMessage:
    """A ``run_step`` message due to be published, as the outbox holds it."""

    job_id: str
    step_id: str
    dispatch: int
    agent: str
    raw: str

    @classmethod
    def parse(cls, raw: str) -> StepMessage:
        data = json.loads(raw)
        return cls(data["job"], data["step"], int(data["dispatch"]), data["agent"], raw)


@dataclass(frozen=True)
class Followups:
    """What a change of state made due: step messages, and whether to finalize the job."""

    messages: list[StepMessage] = field(default_factory=list)
    finalize: bool = False
    # A ready dependent claimed at once for the worker that completed the step (complete).
    chained: tuple[StepMessage, Claim] | None = None
    # The job as the completion of its last step left it (complete): what finalize reads.
    ended: JobResult | None = None

    @classmethod
    def parse(cls, reply: list[Any], job_id: str = "") -> Followups:
        """``{finalize (0/1), messages..., and from complete {message, claim...} of the
        dependent it claimed, if any}``, or ``{-1}``: nothing due (complete, fail, expire);
        or from complete ``{2, the job as read.lua returns it}``: finalize job ``job_id``."""
        if not reply or int(reply[0]) < 0:
            return cls()
        if int(reply[0]) == 2:
            return cls(finalize=True, ended=job_result(job_id, reply[1:]))
        due, chained = reply[1:], None
        if due and isinstance(due[-1], list):
            (raw, *claim), due = due[-1], due[:-1]
            chained = (StepMessage.parse(raw), Claim.parse(claim))
        return cls([StepMessage.parse(raw) for raw in due], bool(int(reply[0])), chained)

    @classmethod
    def parse_ended(cls, reply: list[Any]) -> Followups | str:
        """``{'ok', finalize (0/1)}``: a wait ended with no; else ``{why}`` (reject)."""
        if reply[0] != "ok":
            return str(reply[0])
        return cls(finalize=bool(int(reply[1])))

    @classmethod
    def parse_started(cls, reply: list[Any]) -> Followups | str:
        """``{'ok', messages...}``: the roots queued; else ``{why}``, the job's status or
        'stale' (start, extend, and create with a plan)."""
        if reply[0] != "ok":
            return str(reply[0])
        return cls([StepMessage.parse(raw) for raw in reply[1:]])


@dataclass(frozen=True)
class Claim:
    """The answer to "may this message run the step?"."""

    ok: bool
    attempt: int = 0
    agent: str = ""
    input: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Any] | None = None
    threshold: float | None = None
    budgeted: bool = False  # the job has a budget of tokens or cost
    trace: str = ""  # the job's W3C traceparent, if it is traced
    # An attempt whose lease ran out, taken over by this one: its worker, start, lease end.
    lost: tuple[str, float, float] | None = None
    reason: str = ""
    followups: Followups = field(default_factory=Followups)
    # Upstream outputs the claimer has at hand, by step id: a chained step's parent's.
    known: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, reply: list[Any]) -> Claim:
        """``{'ok', attempt, agent, input, reference, threshold, budgeted, trace, lost
        worker, its start, its lease}``; for a step
        that already succeeded ``{'succeeded', finalize, messages...}``; else ``{why}``
        ('stale', 'missing', 'exhausted', the step's status, or 'job-' and the job's)."""
        why = str(reply[0])
        if why == "ok":
            _, attempt, agent, input, reference, threshold, budgeted, trace, *lost = reply
            return cls(
                True,
                attempt=int(attempt),
                agent=str(agent),
                input=json.loads(input),
                reference=json.loads(reference) if reference else None,
                threshold=float(threshold) if threshold else None,
                budgeted=bool(budgeted),
                trace=str(trace),
                lost=(str(lost[0]), float(lost[1]), float(lost[2])) if lost[0] else None,
            )
        if why == "succeeded":
            return cls(False, reason=why, followups=Followups.parse(reply[1:]))
        return cls(False, reason=why)


@dataclass(frozen=True)
class Renewal:
    """The job's status, and the steps whose lease this worker no longer holds."""

    status: JobStatus | Literal["missing"]
    lost: set[str]

    @classmethod
    def parse(cls, reply: list[Any]) -> Renewal:
        """``{job status, lost steps...}`` (renew)."""
        status = cast(JobStatus | Literal["missing"], str(reply[0]))
        return cls(status, {str(step_id) for step_id in reply[1:]})


def layout(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """Steps as the start and extend scripts write them; dependencies outside ``steps``
    (succeeded steps, for a replanning) are not waited for."""
    ids = {step.id for step in steps}
    deps = {step.id: sorted(dependencies(step) & ids) for step in steps}
    kids: dict[str, list[str]] = {step.id: [] for step in steps}
    for step_id, parents in deps.items():
        for parent in parents:
            kids[parent].append(step_id)
    return [
        {
            "id": step.id,
            "agent": step.agent,
            "input": json.dumps(step.input),
            "reference": json.dumps(step.reference) if step.reference is not None else "",
            "deps": deps[step.id],
            "children": kids[step.id],
        }
        for step in steps
    ]


def job_result(job_id: str, reply: list[Any]) -> JobResult:
    """A job as read.lua returns it: its hash, then each written step's id and hash."""
    fields = pairs(reply[0])
    written = {reply[i]: pairs(reply[i + 1]) for i in range(1, len(reply), 2)}
    plan = Plan.model_validate_json(fields["plan"]) if fields.get("plan") else None
    agents = {step.id: step.agent for step in plan.steps} if plan else {}
    steps = {}
    for step_id in agents:
        steps[step_id] = step_result(written.get(step_id, {}), agents[step_id])
    goal = Goal.model_validate_json(fields["goal"]) if fields.get("goal") else None
    return JobResult(
        job_id=job_id,
        status=fields["status"],  # type: ignore[arg-type]
        answer=json.loads(fields["answer"]) if fields.get("answer") else None,
        error=fields.get("error") or None,
        goal=goal.text if goal else None,
        planner=fields.get("planner") or None,
        plan=plan,
        replans=[Replan.model_validate(r) for r in json.loads(fields.get("replans") or "[]")],
        warnings=plan.warnings if plan else [],
        score=float(fields["score"]) if fields.get("score") else None,
        threshold=float(fields["threshold"]) if fields.get("threshold") else None,
        created_at=from_timestamp(fields.get("created_at")),
        finished_at=from_timestamp(fields.get("finished_at")),
        usage=TokenUsage.of(
            int(fields.get("prompt_tokens", 0)),
            int(fields.get("completion_tokens", 0)),
            float(fields.get("cost", 0)),
        ),
        approval=fields.get("approval") or "none",  # type: ignore[arg-type]
        awaiting=awaiting(fields, plan),
        trace_id=trace_id(fields.get("trace")),
        steps=steps,
    )


def step_result(rec: dict[str, str], agent: str) -> StepResult:
    """A step as its hash reads (``agent`` is the plan's, for a step not yet written)."""
    return StepResult(
        status=rec.get("status", "waiting"),  # type: ignore[arg-type]
        agent=rec.get("agent") or agent,
        output=json.loads(rec["output"]) if rec.get("output") else None,
        error=rec.get("error") or None,
        attempts=int(rec.get("attempts", 0)),
        started_at=from_timestamp(rec.get("started_at")),
        finished_at=from_timestamp(rec.get("finished_at")),
        worker=rec.get("worker") or None,
        progress=float(rec["progress"]) if rec.get("progress") else None,
        message=rec.get("message") or None,
        usage=TokenUsage.of(
            int(rec.get("prompt_tokens", 0)),
            int(rec.get("completion_tokens", 0)),
            float(rec.get("cost", 0)),
        ),
        scores=[Score.model_validate(s) for s in json.loads(rec.get("scores") or "[]")],
        history=json.loads(rec.get("history") or "[]"),
        approval_input=json.loads(rec["approval_input"]) if rec.get("approval_input") else None,
        approval_until=from_timestamp(rec.get("approval_until")),
    )


def awaiting(fields: dict[str, str], plan: Plan | None) -> Awaiting | None:
    """What a job awaiting approval waits for: its plan, or a replanning's proposal
    (``{"plan": the whole plan, "new": the new steps' plan, ...}``, as extend.lua keeps it)."""
    what = fields.get("awaiting")
    if fields.get("status") != "awaiting_approval" or what not in ("plan", "replan"):
        return None
    until = from_timestamp(fields.get("approval_until"))
    assert until is not None
    if what == "plan":
        assert plan is not None
        return Awaiting(what="plan", plan=plan, until=until)
    proposal = json.loads(fields["proposal"])
    new = [step["id"] for step in proposal["new"]["steps"]]
    return Awaiting(what="replan", plan=Plan.model_validate(proposal["plan"]), new=new, until=until)


def event(job_id: str, entry_id: str, data: dict[str, str]) -> Event:
    """An entry of a job's event stream (common.lua's ``emit``)."""
    return Event(
        id=entry_id,
        job_id=job_id,
        type=data["type"],
        step_id=data.get("step") or None,
        at=datetime.fromtimestamp(float(data["ts"]), tz=UTC),
        data=json.loads(data.get("data") or "{}"),
    )


def dead_letter(data: dict[str, str]) -> DeadLetter:
    """An entry of the dead-letter stream (common.lua's ``dead_letter``)."""
    return DeadLetter(
        job_id=data["job"],
        step_id=data["step"],
        agent=data["agent"],
        error=data["error"],
        attempts=int(data["attempts"]),
        at=datetime.fromtimestamp(float(data["ts"]), tz=UTC),
    )
