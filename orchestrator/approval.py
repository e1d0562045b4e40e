"""A person's answer to a job that waits for one: approve (as proposed, or edited) or reject.

A job that asked for approval (``approval="plan"``) waits after planning, and again after
a replanning; a step of an agent type that declares ``needs_approval`` waits before it
runs, its resolved input shown, while the rest of the plan goes on. Each answer is one
Lua script, so when two people answer at once exactly one of them counts; the other is
told that nothing is waiting any more (``NotAwaitingApproval``).

>>> Approvals(engine).approve(job_id)                       # the plan as proposed
>>> Approvals(engine).approve(job_id, plan=edited)          # validated like any plan
>>> Approvals(engine).reject(job_id, "too expensive", step="refund")
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator import tracing
from orchestrator.engine import Engine
from orchestrator.errors import NotAwaitingApproval, PlanError, UserError
from orchestrator.models import JobResult, JobStatus, Plan, Replan
from orchestrator.planning.replan import merge
from orchestrator.store.records import Followups

MAX_REASON_CHARS = 2000


class Approvals:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    def approve(
        self,
        job_id: str,
        plan: Plan | Mapping[str, Any] | None = None,
        *,
        step: str | None = None,
    ) -> JobStatus:
        """Let what the job (or its ``step``) waits for go ahead; return the job's status.

        ``plan`` replaces the plan awaiting approval (for a replanning: the whole plan
        shown in ``JobResult.awaiting``, its new steps edited); it is validated like any
        plan, and an invalid one raises ``PlanError`` with the job still waiting."""
        began = self._waiting_since(job_id, step)
        if step is not None:
            if plan is not None:
                raise UserError(
                    "a step is approved as it is; an edited plan goes with a job's plan"
                )
            done = self.store.approvals.approve_step(job_id, step)
            self._check(job_id, done, step)
        else:
            done = self._approve_job(job_id, plan)
        assert isinstance(done, Followups)
        self._waited(job_id, step, began, "approved")
        self.engine.deliver(job_id, done)
        return self.store.job_status(job_id)

    def reject(self, job_id: str, reason: str, *, step: str | None = None) -> JobStatus:
        """Say no: the job ends ``rejected`` with the reason, or the step fails with it
        (and the job's usual failure handling follows); return the job's status."""
        if not isinstance(reason, str) or not reason.strip():
            raise UserError(
                "say why it is rejected: the reason is shown to whoever follows the job"
            )
        if len(reason) > MAX_REASON_CHARS:
            raise UserError(f"the reason has {len(reason)} characters; at most {MAX_REASON_CHARS}")
        why = f"rejected: {reason.strip()}"
        began = self._waiting_since(job_id, step)
        done = self.store.approvals.reject(job_id, step, why)
        self._check(job_id, done, step)
        assert isinstance(done, Followups)
        self._waited(job_id, step, began, "rejected")
        self.engine.deliver(job_id, done)  # a failed step's job may be due to finalize
        return self.store.job_status(job_id)

    def _waiting_since(self, job_id: str, step: str | None) -> float | None:
        """When the wait about to be answered began (Unix seconds), if the job is traced."""
        if not tracing.enabled():
            return None
        return self.store.approvals.waiting_since(job_id, step)

    def _waited(self, job_id: str, step: str | None, began: float | None, answer: str) -> None:
        if began is not None:
            now = self.store.outbox.now()
            tracing.waited(self.store.trace(job_id), job_id, step, began, now, answer)

    def _approve_job(self, job_id: str, edited: Plan | Mapping[str, Any] | None) -> Followups:
        result = self.store.result(job_id)
        awaiting = result.awaiting
        if awaiting is None:
            raise NotAwaitingApproval(job_id, result.status, hint=_steps_waiting(result))
        approvals = self.store.approvals
        if awaiting.what == "plan":
            plan = self.engine.validate(edited) if edited is not None else awaiting.plan
            done = approvals.approve_plan(
                job_id, "plan", plan.steps, plan, edited=edited is not None
            )
        else:
            proposal = json.loads(self.store.job_fields(job_id)["proposal"])
            replans = [Replan.model_validate(r) for r in proposal["replans"]]
            merged, new = (
                Plan.model_validate(proposal["plan"]),
                Plan.model_validate(proposal["new"]),
            )
            if edited is not None:
                merged, new = self._edited_replan(result, edited)
                replans[-1] = replans[-1].model_copy(update={"added": [s.id for s in new.steps]})
            done = approvals.approve_plan(
                job_id, "replan", new.steps, merged, edited=edited is not None, replans=replans
            )
        self._check(job_id, done, None)
        assert isinstance(done, Followups)
        return done

    def _edited_replan(
        self, result: JobResult, edited: Plan | Mapping[str, Any]
    ) -> tuple[Plan, Plan]:
        """The whole plan and its new steps, from a person's edit of a replanning's plan:
        the steps that ran stay as they were; the others are the new steps."""
        assert result.plan is not None
        whole = self.engine.validate(edited)
        old = {step.id for step in result.plan.steps}
        if [step for step in whole.steps if step.id in old] != list(result.plan.steps):
            raise PlanError(
                "an edited replanning keeps the job's steps as they are (they have run); "
                f"change or add only new steps (not {sorted(old)})"
            )
        added = [step for step in whole.steps if step.id not in old]
        if not added:
            raise PlanError("an edited replanning adds at least one step; reject it instead")
        succeeded = {sid for sid, step in result.steps.items() if step.status == "succeeded"}
        new = Plan(steps=added, answer_from=whole.answer_from)
        return merge(result.plan, new, succeeded), new

    def _check(self, job_id: str, done: Followups | str, step: str | None) -> None:
        if isinstance(done, Followups):
            return
        if done == "no-step":
            raise UserError(f"job {job_id} has no step {step!r} (or it has not been written yet)")
        if done == "missing":
            self.store.job_status(job_id)  # raises JobNotFound
        if done == "changed":
            done = "awaiting something else by now (see `celeriac status`)"
        raise NotAwaitingApproval(job_id, done, step_id=step)


def _steps_waiting(result: JobResult) -> str:
    """A hint for an approval of a job whose steps (not the job) wait for one."""
    waiting = [sid for sid, step in result.steps.items() if step.status == "awaiting_approval"]
    if not waiting:
        return ""
    return f"; its step {waiting[0]!r} is: name it (step={waiting[0]!r}, --step {waiting[0]})"
