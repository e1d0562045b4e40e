"""The DAG engine: starts jobs, publishes what became due, finalizes, sweeps.

State changes themselves are atomic scripts in the store; the engine decides
what to ask for and publishes the messages each change makes due.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agents.base import Agent
from orchestrator import names
from orchestrator.errors import JobNotFound, PlanError
from orchestrator.models import TERMINAL_STEP, Budget, JobResult, Plan
from orchestrator.plans import AgentTypes, dependencies, validate_plan
from orchestrator.settings import Settings
from orchestrator.store import Followups, StepMessage, Store

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    """Publishes celeriac's task messages."""

    def send_steps(self, messages: Sequence[StepMessage]) -> None: ...
    def send_plan(self, job_id: str) -> None: ...
    def send_finalize(self, job_id: str) -> None: ...


@dataclass(frozen=True)
class SweepReport:
    expired: int = 0
    resent: int = 0
    rewatched: int = 0


def summarize(plan: Plan, result: JobResult) -> tuple[str, Any, str]:
    """A finished job's status, answer and error, from its steps.

    The answer is ``answer_from``'s output; without one, the output of the one
    step nothing depends on, or a mapping of such steps to their outputs.
    """
    steps = result.steps
    parents = set().union(*(dependencies(step) for step in plan.steps))
    answer_ids = (
        [plan.answer_from]
        if plan.answer_from
        else [step.id for step in plan.steps if step.id not in parents]
    )
    good = [sid for sid in answer_ids if steps[sid].status == "succeeded"]
    failed = [sid for sid, step in steps.items() if step.status == "failed"]
    if len(answer_ids) == 1:
        answer = steps[answer_ids[0]].output if good else None
    else:
        answer = {sid: steps[sid].output for sid in good}
    if len(good) == len(answer_ids) and not failed:
        status = "succeeded"
    elif good:
        status = "partial"
    else:
        status = "failed"
    errors = [f"step {sid!r} failed: {steps[sid].error}" for sid in failed]
    return status, answer, "; ".join(errors)


class Engine:
    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        local_agents: Mapping[str, type[Agent]],
        settings: Settings,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.local_agents = local_agents
        self.settings = settings

    def live_workers(self) -> dict[str, dict[str, Any]]:
        """Workers whose heartbeat is recent, with the agent types they serve."""
        return self.store.live_workers(3 * self.settings.worker_heartbeat_seconds)

    def known_agents(self) -> AgentTypes:
        """Agent types this process can import, plus those live workers serve."""
        known: dict[str, type[Agent] | None] = dict(self.local_agents)
        for info in self.live_workers().values():
            for name in info.get("agents", []):
                known.setdefault(name, None)
        return known

    def validate(self, plan: Plan | Mapping[str, Any]) -> Plan:
        return validate_plan(plan, self.known_agents(), max_steps=self.settings.max_plan_steps)

    def submit(self, plan: Plan | Mapping[str, Any], budget: Budget | None = None) -> str:
        """Validate a plan, record a pending job and ask an orchestrator to start it."""
        plan = self.validate(plan)
        job_id = uuid.uuid4().hex
        self.store.create_job(job_id, plan, budget=budget)
        self.dispatcher.send_plan(job_id)
        return job_id

    def start(self, job_id: str) -> None:
        """The plan task: check the plan once more, then queue the steps that can run."""
        try:
            plan = self.store.plan(job_id)
        except JobNotFound:
            log.warning("plan: job %s does not exist (expired?)", job_id)
            return
        try:
            self.validate(plan)
        except PlanError as exc:
            self.store.finish_job(job_id, "failed", None, f"invalid plan: {exc}")
            return
        started = self.store.start_job(job_id, plan)
        if isinstance(started, Followups):
            self.deliver(job_id, started)

    def deliver(self, job_id: str, followups: Followups) -> None:
        """Publish what a change of state made due, then clear it from the outbox."""
        if followups.messages:
            self.dispatcher.send_steps(followups.messages)
            self.store.sent(followups.messages)
        if followups.finalize:
            self.dispatcher.send_finalize(job_id)

    def finalize(self, job_id: str) -> None:
        """Aggregate a job whose steps have all ended, and mark it finished (once)."""
        try:
            result = self.store.result(job_id)
        except JobNotFound:
            return
        if result.done:
            return
        unfinished = [sid for sid, step in result.steps.items() if step.status not in TERMINAL_STEP]
        if unfinished:
            log.warning("finalize %s: steps %s have not ended; not finalizing", job_id, unfinished)
            return
        status, answer, error = summarize(self.store.plan(job_id), result)
        self.store.finish_job(job_id, status, answer, error)

    def cancel(self, job_id: str) -> str:
        self.store.job_status(job_id)
        return self.store.cancel_job(job_id)

    def sweep(self) -> SweepReport:
        """Recover from crashes: requeue steps whose lease expired, send stranded messages."""
        now = self.store.now()
        expired = 0
        for job_id, step_id in self.store.expired_leases(now):
            followups = self.store.expire(job_id, step_id, self.settings.step_max_attempts)
            if followups.messages or followups.finalize:
                expired += 1
                log.warning("step %s/%s lost its worker; requeued or failed", job_id, step_id)
            self.deliver(job_id, followups)
        stranded = [StepMessage.parse(raw) for raw in self.store.due(names.OUTBOX_KEY, now)]
        if stranded:
            self.dispatcher.send_steps(stranded)
            self.store.sent(stranded)
        resent = len(stranded)
        rewatched = 0
        for member in self.store.due(names.WATCH_KEY, now):
            kind, _, job_id = member.partition(" ")
            if kind == "plan":
                self.dispatcher.send_plan(job_id)
            else:
                self.dispatcher.send_finalize(job_id)
            self.store.rewatch(member, now + 4 * self.store.grace_seconds)
            rewatched += 1
        return SweepReport(expired, resent, rewatched)
