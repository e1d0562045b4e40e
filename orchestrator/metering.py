"""Metering model calls (a step's or the planner's): tokens, cost, and the job's budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agents.llm import BudgetExceeded, ChatModel, MeteredChatModel, Usage
from orchestrator.settings import Settings
from orchestrator.store import Store

UsageHook = Callable[[str, Usage, float], None]  # model, usage, cost


@dataclass(frozen=True)
class StepMeter:
    store: Store
    settings: Settings
    job_id: str
    step_id: str | None  # None: the planner's calls, counted for the job only
    on_usage: UsageHook | None = None  # e.g. a worker's metrics

    def record(self, model: str, usage: Usage) -> None:
        """Count a reply's tokens, and their cost, for the step and its job."""
        cost = self.settings.llm_cost(model, usage.prompt_tokens, usage.completion_tokens)
        self.store.add_usage(
            self.job_id, self.step_id, usage.prompt_tokens, usage.completion_tokens, cost
        )
        if self.on_usage is not None:
            self.on_usage(model, usage, cost)

    def check(self, estimate: int) -> None:
        """Refuse a call that would take the job past its budget."""
        used, budget = self.store.spending(self.job_id)
        if budget.tokens is not None and used.total_tokens + estimate > budget.tokens:
            raise BudgetExceeded(
                f"the job's budget of {budget.tokens} tokens would be exceeded: "
                f"{used.total_tokens} used, this call needs about {estimate}"
            )
        worst = self.settings.llm_cost(self.settings.llm_model, 0, estimate)
        if budget.cost is not None and used.cost + worst > budget.cost:
            raise BudgetExceeded(
                f"the job's budget of ${budget.cost:g} would be exceeded: "
                f"${used.cost:.6f} spent, this call may cost up to ${worst:.6f}"
            )


def metered(
    model: ChatModel | None,
    store: Store,
    settings: Settings,
    job_id: str,
    step_id: str | None,
    on_usage: UsageHook | None = None,
    *,
    budgeted: bool = True,
) -> ChatModel | None:
    """The step's view of the worker's model: metered and under the job's budget
    (checked before each call unless the job is known to have none)."""
    if model is None:
        return None
    meter = StepMeter(store, settings, job_id, step_id, on_usage)
    return MeteredChatModel(model, meter.record, meter.check if budgeted else None)
