"""The DAG engine: starts jobs, publishes what became due, finalizes, sweeps.

State changes themselves are atomic scripts in the store; the engine decides
what to ask for and publishes the messages each change makes due.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from agents.backoff import backoff_delay
from agents.base import Agent
from agents.errors import CeleriacError, TransientError
from agents.llm import ChatModel
from orchestrator import tracing
from orchestrator.errors import JobNotFound, PlanError, PlanningError, UserError
from orchestrator.llm.metering import StepMeter, metered
from orchestrator.models import (
    TERMINAL_STEP,
    Approval,
    Budget,
    Goal,
    JobResult,
    JobStatus,
    Plan,
    job_score,
)
from orchestrator.planning.base import Check, Planner, check_goal, checker, plan_for
from orchestrator.planning.build import build_planner
from orchestrator.planning.cards import AgentCard, Cards, joined_offers
from orchestrator.planning.readiness import unready
from orchestrator.planning.replan import check_merged, merge, record, replaced_steps
from orchestrator.planning.translators import check_languages
from orchestrator.plans import AgentTypes, dependencies, validate_plan
from orchestrator.settings import Settings
from orchestrator.store.jobs import Store
from orchestrator.store.records import Followups
from orchestrator.transport.dispatch import Dispatcher

log = logging.getLogger(__name__)


def summarize(plan: Plan, result: JobResult) -> tuple[JobStatus, Any, str]:
    """A finished job's status, answer and error, from its steps.

    The answer is ``answer_from``'s output; without one, the output of the one
    step nothing depends on, or a mapping of such steps to their outputs. Steps a
    replanning took the place of do not count.
    """
    steps = result.steps
    replaced = replaced_steps(result)
    live = [step for step in plan.steps if step.id not in replaced]
    parents = set().union(*(dependencies(step) for step in live))
    answer_ids = (
        [plan.answer_from]
        if plan.answer_from
        else [step.id for step in live if step.id not in parents]
    )
    good = [sid for sid in answer_ids if steps[sid].status == "succeeded"]
    failed = [s for s, step in steps.items() if step.status == "failed" and s not in replaced]
    if len(answer_ids) == 1:
        answer = steps[answer_ids[0]].output if good else None
    else:
        answer = {sid: steps[sid].output for sid in good}
    status: JobStatus
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
        # The chat model planning uses; orchestrator workers set it (None: the rules).
        self.model: ChatModel | None = None
        self._served: tuple[float, set[str]] = (-math.inf, set())  # (when, types) read

    def live_workers(self) -> dict[str, dict[str, Any]]:
        """Workers whose heartbeat is recent, with the agent types they serve."""
        return self.store.roster.live(3 * self.settings.worker_heartbeat_seconds)

    def known_agents(self, *, recent: bool = False) -> AgentTypes:
        """Agent types this process can import, plus those live workers serve (``recent``:
        as read within a heartbeat period, which saves a submit two round trips)."""
        now = time.monotonic()
        if not recent or now - self._served[0] > self.settings.worker_heartbeat_seconds:
            served = {n for info in self.live_workers().values() for n in info.get("agents", [])}
            self._served = (now, served)
        known: dict[str, type[Agent] | None] = dict(self.local_agents)
        for name in self._served[1]:
            known.setdefault(name, None)
        return known

    def validate(self, plan: Plan | Mapping[str, Any]) -> Plan:
        steps = self.settings.max_plan_steps
        try:
            return validate_plan(plan, self.known_agents(recent=True), max_steps=steps)
        except PlanError:  # perhaps a type whose worker just started: ask the roster again
            return validate_plan(plan, self.known_agents(), max_steps=steps)

    def available_cards(self) -> dict[str, AgentCard]:
        """The cards of the agent types live workers serve, with what those workers offer
        (joined): what a planner may use."""
        live = self.live_workers().values()
        served = {name for info in live for name in info.get("agents", [])}
        published = self.store.roster.cards()
        cards = {}
        for name in sorted(served):
            offers = joined_offers(info.get("capabilities", {}).get(name, {}) for info in live)
            if name in published:
                cards[name] = published[name].model_copy(update={"offers": offers})
            elif name in self.local_agents:
                cards[name] = AgentCard.of(self.local_agents[name], offers)
        return cards

    def checker(self, cards: Cards) -> Check:
        """Validation of planned plans: only the types in ``cards``, and only steps some
        live worker can run (``readiness``: the engine, model or extra a step needs)."""
        validate = checker(cards, self.local_agents, self.settings.max_plan_steps)

        def check(plan: Plan) -> Plan:
            checked = validate(plan)
            problem = unready(checked, self.local_agents, self.live_workers().values())
            if problem is not None:
                raise PlanError(str(problem), step_id=problem.step_id)
            return checked

        return check

    def check_goal(self, goal: Goal) -> Goal:
        """The goal, trimmed, or ``UserError``: also for a language it asks for, or is
        written in, that no live worker can produce (the plan task decides again, with the
        workers it finds)."""
        checked = check_goal(goal, self.settings)
        check_languages(checked, self.available_cards())
        return checked

    def submit(
        self,
        plan: Plan | Mapping[str, Any] | None = None,
        budget: Budget | None = None,
        *,
        goal: Goal | None = None,
        threshold: float | None = None,
        approval: Approval | None = None,
        approval_timeout: float | None = None,
    ) -> str:
        """Record a pending job for a plan (validated now) or a goal (planned by an
        orchestrator worker), and ask an orchestrator to start it. With ``approval``
        'plan' (default CELERIAC_APPROVAL), the plan then waits for a person's yes, for
        ``approval_timeout`` seconds (default CELERIAC_APPROVAL_TIMEOUT_SECONDS)."""
        if (plan is None) == (goal is None):
            raise UserError("submit a plan or a goal (exactly one of them)")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise UserError(f"the threshold must be between 0 and 1 (scores are), not {threshold}")
        checked = self.validate(plan) if plan is not None else None
        goal = self.check_goal(goal) if goal is not None else None
        job_id = uuid.uuid4().hex
        approval = approval or self.settings.approval
        attributes = {"celeriac.job.id": job_id, "celeriac.job.approval": approval}
        with tracing.span("celeriac.submit", attributes=attributes, root=True) as root:
            # A checked plan starts at once, with no plan task; if this process dies before
            # publishing its first steps, the sweeper sends them from the outbox.
            started = self.store.create_job(
                job_id,
                checked,
                goal=goal,
                budget=budget,
                threshold=threshold,
                approval=approval,
                approval_timeout=approval_timeout or self.settings.approval_timeout_seconds,
                trace=root.traceparent,
            )
            with tracing.job(root.traceparent):
                if started is None:
                    self.dispatcher.send_plan(job_id)  # an orchestrator worker plans the goal
                elif isinstance(started, Followups):
                    self.deliver(job_id, started)
        return job_id

    def plan_goal(self, goal: Goal, job_id: str | None = None) -> tuple[Plan, str]:
        """A plan for ``goal`` and who made it; the model's calls count for ``job_id``."""
        planner = self._planner(job_id)
        cards = self.available_cards()
        if not cards:
            raise PlanningError(
                "no live worker serves any agent type: start one with `celeriac worker`"
            )
        return plan_for(planner, goal, cards, self.checker(cards)), planner.name

    def _planner(self, job_id: str | None) -> Planner:
        """The planner for a job: with this engine's model (its calls counted for the job)
        if it has one, else the rules."""
        model = self.model
        if model is not None and job_id is not None:
            model = metered(model, StepMeter(self.store, self.settings, job_id, None))
        return build_planner(self.settings, model)

    @contextmanager
    def traced(self, name: str, job_id: str) -> Iterator[None]:
        """Inside the block: a span ``name`` in the job's trace, if it has one."""
        parent = self.store.trace(job_id) if tracing.enabled() else ""
        if not parent:
            yield
            return
        with tracing.span(name, parent, {"celeriac.job.id": job_id}), tracing.job(parent):
            yield

    def start(self, job_id: str) -> None:
        """The plan task: plan a goal and queue the steps that can run.

        A plan job started when it was submitted: a plan task for it (delivered again, or
        for a job planned already) finds it running and does nothing.
        """
        with self.traced("celeriac.plan", job_id):
            self._start(job_id)

    def _start(self, job_id: str) -> None:
        try:
            plan, goal = self.store.plan(job_id), self.store.goal(job_id)
        except JobNotFound:
            log.warning("plan: job %s does not exist (expired?)", job_id)
            return
        planner = ""
        if plan is None:
            if goal is None or self.store.job_status(job_id) != "pending":
                return
            # Planning may take a while (a model, repairs): the sweeper waits that long.
            self.store.outbox.rewatch(
                f"plan {job_id}", self.store.outbox.now() + self.settings.planner_timeout_seconds
            )
            try:
                plan, planner = self.plan_goal(goal, job_id)
            except TransientError as exc:
                self._retry_planning(job_id, exc)
                return
            except CeleriacError as exc:
                self.store.finish_job(job_id, "failed", None, f"planning failed: {exc}")
                return
            except Exception as exc:  # a planner's bug must not leave the job pending for ever
                log.exception("job %s: the planner raised", job_id)
                error = f"planning failed: {type(exc).__name__}: {exc}"
                self.store.finish_job(job_id, "failed", None, error)
                return
        started = self.store.start_job(job_id, plan, planner)
        if isinstance(started, Followups):
            self.deliver(job_id, started)

    def _retry_planning(self, job_id: str, exc: TransientError) -> None:
        """Plan again later (the sweeper resends the plan task), as often as a step may run."""
        attempt = self.store.planning_attempt(job_id)
        if attempt >= self.settings.step_max_attempts:
            self.store.finish_job(
                job_id, "failed", None, f"planning failed after {attempt} attempts: {exc}"
            )
            return
        delay = backoff_delay(
            self.settings.retry_backoff_seconds,
            self.settings.retry_backoff_max_seconds,
            attempt,
            exc.retry_after,
        )
        log.warning("job %s: planning failed (%s); trying again in %.1fs", job_id, exc, delay)
        self.store.outbox.rewatch(f"plan {job_id}", self.store.outbox.now() + delay)

    def deliver(self, job_id: str, followups: Followups) -> None:
        """Publish what a change of state made due, then clear it from the outbox; finalize
        a job whose steps have all ended, here unless it may be replanned."""
        if followups.messages:
            self.dispatcher.send_steps(followups.messages)
            self.store.outbox.sent(followups.messages)
        if followups.finalize and not self.finalize(
            job_id, replanning=False, ended=followups.ended
        ):
            self.dispatcher.send_finalize(job_id)

    def finalize(
        self, job_id: str, *, replanning: bool = True, ended: JobResult | None = None
    ) -> bool:
        """Aggregate a job whose steps have all ended, and mark it finished (once).

        Without ``replanning`` (a worker that just ran the job's last step), a job whose
        failed branch a planner may replace is left alone: False, for the orchestrator.
        ``ended``: the job as the script that ended its last step read it; else it is
        read now (a finalize sent again, by the sweeper or a worker, always reads).
        """
        with self.traced("celeriac.finalize", job_id):
            return self._finalize(job_id, replanning, ended)

    def _finalize(self, job_id: str, replanning: bool, ended: JobResult | None) -> bool:
        try:
            result = ended if ended is not None else self.store.result(job_id)
        except JobNotFound:
            return True
        if result.done or result.status == "awaiting_approval":
            return True  # a person decides what a job awaiting approval does next
        unfinished = [sid for sid, step in result.steps.items() if step.status not in TERMINAL_STEP]
        if unfinished:
            log.warning("finalize %s: steps %s have not ended; not finalizing", job_id, unfinished)
            return True
        if result.plan is None:
            return True
        failed = self._replaceable(result)
        goal = self.store.goal(job_id) if failed else None
        if goal is not None:
            if not replanning:
                return False
            if self._replan(job_id, result, goal, failed[0]):
                return True
        status, answer, error = summarize(result.plan, result)
        score = job_score(result, skip=replaced_steps(result))
        tracing.annotate({"celeriac.job.status": status, "celeriac.job.score": score or 0.0})
        self.store.finish_job(job_id, status, answer, error, score)
        return True

    def _replaceable(self, result: JobResult) -> list[str]:
        """The failed steps a replanning may take the place of (none once replans ran out)."""
        if len(result.replans) >= self.settings.replan_attempts:
            return []
        replaced = replaced_steps(result)
        return [
            s for s, step in result.steps.items() if step.status == "failed" and s not in replaced
        ]

    def _replan(self, job_id: str, result: JobResult, goal: Goal, target: str) -> bool:
        """Ask the planner for steps in place of failed step ``target``'s branch; True if
        some were added."""
        if self.model is None or result.plan is None:
            return False  # the rules do not replan
        plan = result.plan
        succeeded = {sid for sid, step in result.steps.items() if step.status == "succeeded"}
        cards = self.available_cards()
        check = self.checker(cards)
        planner = self._planner(job_id)
        self.store.outbox.rewatch(
            f"finalize {job_id}", self.store.outbox.now() + self.settings.planner_timeout_seconds
        )
        try:
            with tracing.span("celeriac.replan", attributes={"celeriac.step.id": target}):
                new = planner.replan(
                    goal, result, target, cards, lambda n: check_merged(n, plan, succeeded, check)
                )
        except CeleriacError as exc:
            log.warning("job %s: replanning after step %s failed: %s", job_id, target, exc)
            return False
        if new is None:
            return False
        merged = merge(plan, new, succeeded)
        replans = [*result.replans, record(result, target, new)]
        proposal = json.dumps(
            {
                "plan": merged.model_dump(mode="json"),
                "new": new.model_dump(mode="json"),
                "replans": [replan.model_dump() for replan in replans],
            }
        )
        extended = self.store.extend_job(job_id, merged, new.steps, replans, proposal)
        if not isinstance(extended, Followups):
            # Another finalizer replanned first, or the new steps wait for a person.
            return extended in ("stale", "awaiting_approval")
        self.deliver(job_id, extended)
        return True

    def cancel(self, job_id: str) -> JobStatus:
        self.store.job_status(job_id)
        return self.store.cancel_job(job_id)
