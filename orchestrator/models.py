"""The data celeriac exchanges: plans, step and job results, events."""

from __future__ import annotations

import statistics
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from agents.scoring import Score as Score  # a step's scores are the agent's

JobStatus = Literal[
    "pending",
    "awaiting_approval",
    "running",
    "succeeded",
    "partial",
    "failed",
    "cancelled",
    "rejected",
    "expired",
]
StepStatus = Literal[
    "waiting",
    "queued",
    "awaiting_approval",
    "running",
    "succeeded",
    "failed",
    "skipped",
    "cancelled",
]
Approval = Literal["none", "plan"]  # what a job asks a person to approve before it runs

TERMINAL_JOB: frozenset[str] = frozenset(
    {"succeeded", "partial", "failed", "cancelled", "rejected", "expired"}
)
TERMINAL_STEP: frozenset[str] = frozenset({"succeeded", "failed", "skipped", "cancelled"})

STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Step(BaseModel):
    """One step of a plan: an agent type, its input, and the steps it waits for.

    Anywhere in ``input``, ``{"$from": "STEP_ID", "path": "a.b.0"}`` stands for
    that part of that step's output (``path`` omitted = the whole output).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=STEP_ID_PATTERN)
    agent: str = Field(min_length=1)
    input: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    reference: dict[str, Any] | None = Field(
        default=None,
        description=(
            "What the step's output is scored against: retrieval {'relevant': {doc_id: grade}}, "
            "translation {'texts': [...]}, generation {'text': ...}. Optional."
        ),
    )


class Plan(BaseModel):
    """A DAG of steps. ``answer_from`` names the step whose output is the answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: list[Step] = Field(min_length=1)
    answer_from: str | None = None
    warnings: list[str] = Field(
        default_factory=list,
        description="What the planner warns of, e.g. an answer left in its source language.",
    )


class Goal(BaseModel):
    """A goal in plain language, and what the planner may know besides.

    ``collection`` names the document collection to search (the default one if None).
    ``fallback_language`` allows an answer in its source language, with a warning, when
    the deployment cannot produce the language the goal asks for (else planning fails).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    collection: str | None = None
    fallback_language: bool = False


class Replan(BaseModel):
    """One replanning: the step that failed, why, and the steps that replaced its branch."""

    model_config = ConfigDict(frozen=True)

    failed_step: str
    error: str
    replaced: list[str] = Field(description="The failed step and the steps it had skipped.")
    added: list[str] = Field(description="The steps the planner added in their place.")


class ScoredAttempt(BaseModel):
    """An attempt at a step whose main score fell under its job's threshold."""

    model_config = ConfigDict(frozen=True)

    attempt: int
    scores: list[Score]


class TokenUsage(BaseModel):
    """Model calls' tokens and cost (USD, from CELERIAC_LLM_PRICES): a step's or a job's."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float = 0.0

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int, cost: float = 0.0) -> TokenUsage:
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
            cost=round(cost, 8),
        )


class Budget(BaseModel):
    """The most a job may spend on model calls; a step that would go over fails."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tokens: int | None = Field(default=None, gt=0)
    cost: float | None = Field(default=None, gt=0, description="USD")


class Awaiting(BaseModel):
    """What a job in ``awaiting_approval`` waits for a person to approve, and until when.

    ``what`` is ``plan`` (before anything runs) or ``replan`` (steps a replanning proposes
    in place of a failed branch: ``plan`` is then the job's plan with them, ``new`` their
    ids, as ``job.approve(plan=...)`` may replace them).
    """

    model_config = ConfigDict(frozen=True)

    what: Literal["plan", "replan"]
    plan: Plan
    new: list[str] = Field(default_factory=list)
    until: datetime


class StepResult(BaseModel):
    status: StepStatus
    agent: str
    output: Any = None
    error: str | None = None
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker: str | None = None
    progress: float | None = None
    message: str | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)
    scores: list[Score] = Field(default_factory=list, description="The first is the main one.")
    history: list[ScoredAttempt] = Field(
        default_factory=list, description="Attempts that scored under the job's threshold."
    )
    approval_input: dict[str, Any] | None = Field(
        default=None,
        description="The resolved input of a step that waits, or waited, for a person's yes.",
    )
    approval_until: datetime | None = None


class JobResult(BaseModel):
    """A job as a whole: what ``celeriac result --json`` prints."""

    job_id: str
    status: JobStatus
    answer: Any = None
    error: str | None = None
    goal: str | None = None
    planner: str | None = Field(default=None, description="Who made the plan: rules, llm:MODEL.")
    plan: Plan | None = None
    replans: list[Replan] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list, description="The plan's warnings (an answer in another language)."
    )
    score: float | None = Field(
        default=None, description="The mean of the scored steps' main scores, in [0, 1]."
    )
    threshold: float | None = Field(
        default=None, description="The least main score a step must reach, if set."
    )
    created_at: datetime | None = None
    finished_at: datetime | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)
    approval: Approval = "none"
    awaiting: Awaiting | None = Field(
        default=None, description="What the job waits for a person to approve, if it does."
    )
    trace_id: str | None = Field(
        default=None, description="The job's OpenTelemetry trace id, when it is traced."
    )
    steps: dict[str, StepResult] = Field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_JOB

    @computed_field  # type: ignore[prop-decorator]
    @property
    def answered(self) -> bool | None:
        """False when a step found that its passages do not answer the goal (its output
        says ``"answered": false``: route the customer to a person); True when the steps
        that say it all answered; None when no step says."""
        said = [
            step.output["answered"]
            for step in self.steps.values()
            if step.status == "succeeded"
            and isinstance(step.output, dict)
            and isinstance(step.output.get("answered"), bool)
        ]
        return all(said) if said else None


class DeadLetter(BaseModel):
    """A step that failed for good (after its attempts): kept for operators to look into."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    step_id: str
    agent: str
    error: str
    attempts: int
    at: datetime


class Event(BaseModel):
    """One entry of a job's event stream.

    ``type`` is one of: job_submitted, job_planned, job_awaiting_approval, job_approved,
    job_replanned, job_started, job_finished, step_queued, step_awaiting_approval,
    step_approved, step_started, step_progress, step_succeeded, step_retrying,
    step_failed, step_skipped, step_cancelled; and step_delta, a piece of a step's output
    as it is written (``data``: ``text``, and the ``attempt`` writing it).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    job_id: str
    type: str
    step_id: str | None = None
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict)


def from_timestamp(value: str | bytes | float | None) -> datetime | None:
    """A unix time as stored in Redis, as an aware UTC datetime."""
    if value is None or value in ("", b""):
        return None
    return datetime.fromtimestamp(float(value), tz=UTC)


def job_score(result: JobResult, skip: Collection[str] = ()) -> float | None:
    """The mean of the main scores of the job's succeeded, scored steps (except ``skip``)."""
    mains = [
        step.scores[0].value
        for step_id, step in result.steps.items()
        if step.status == "succeeded" and step.scores and step_id not in skip
    ]
    return round(statistics.fmean(mains), 6) if mains else None
