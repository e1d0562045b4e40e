"""Replanning: new steps in place of a branch that failed, joined to what succeeded.

When every step of a goal's job has ended and one failed, the planner (with a model)
may be asked for steps that reach the goal another way. They may use the outputs of
steps that succeeded; the failed step and the steps it skipped are *replaced*: kept
in the result for the record, but no longer counted against the job.
"""

from __future__ import annotations

from collections.abc import Collection

from orchestrator.errors import PlanError
from orchestrator.models import JobResult, Plan, Replan
from orchestrator.planning.base import Check
from orchestrator.plans import dependencies


def replaced_steps(result: JobResult) -> set[str]:
    """Steps earlier replannings took the place of."""
    return {step_id for replan in result.replans for step_id in replan.replaced}


def branch(plan: Plan, failed: str) -> list[str]:
    """The failed step and every step that (transitively) waited for it, in plan order."""
    lost = {failed}
    changed = True  # a step may come before its parents in a plan: repeat until settled
    while changed:
        changed = False
        for step in plan.steps:
            if step.id not in lost and dependencies(step) & lost:
                lost.add(step.id)
                changed = True
    return [step.id for step in plan.steps if step.id in lost]


def merge(plan: Plan, new: Plan, succeeded: Collection[str]) -> Plan:
    """The job's plan with ``new``'s steps added; ``new`` may use only succeeded steps."""
    old = {step.id for step in plan.steps}
    added = {step.id for step in new.steps}
    for step in new.steps:
        if step.id in old:
            raise PlanError(
                f"step {step.id!r}: id is already used by the plan; give new steps new ids",
                step_id=step.id,
            )
        for dep in sorted(dependencies(step) - added):
            if dep not in succeeded:
                raise PlanError(
                    f"step {step.id!r}: uses step {dep!r}, which did not succeed; new steps "
                    f"may use only {sorted(succeeded)} and each other",
                    step_id=step.id,
                )
    answer = new.answer_from
    if answer is None:
        parents = set().union(*(dependencies(step) for step in new.steps))
        sinks = [step.id for step in new.steps if step.id not in parents]
        answer = sinks[0] if len(sinks) == 1 else None
    if answer is None:
        raise PlanError("name the step whose output answers the goal in answer_from")
    return Plan(steps=[*plan.steps, *new.steps], answer_from=answer)


def check_merged(new: Plan, plan: Plan, succeeded: Collection[str], check: Check) -> Plan:
    """``new`` if, added to ``plan``, it makes a valid plan (``check`` validates it whole)."""
    check(merge(plan, new, succeeded))
    return new


def record(result: JobResult, failed: str, new: Plan) -> Replan:
    assert result.plan is not None
    return Replan(
        failed_step=failed,
        error=result.steps[failed].error or "",
        replaced=branch(result.plan, failed),
        added=[step.id for step in new.steps],
    )
