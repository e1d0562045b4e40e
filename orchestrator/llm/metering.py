"""Metering model calls (a step's or the planner's): tokens, cost, and the job's budget."""

from __future__ import annotations

import threading
from collections.abc import Callable

from agents.llm import BudgetExceeded, ChatModel, MeteredChatModel, Usage
from orchestrator import tracing
from orchestrator.models import TokenUsage
from orchestrator.settings import Settings
from orchestrator.store.jobs import Store

UsageHook = Callable[[str, Usage, float], None]  # model, usage, cost


class StepMeter:
    """Counts a step's (or the planner's) model calls for the step and its job.

    ``budgeted`` (the job may have a budget): each call is checked against it first, and
    its count written at once for the next check to see. Otherwise the count stays here
    until ``take`` (the step's completion writes it) or ``flush``.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        job_id: str,
        step_id: str | None,  # None: the planner's calls, counted for the job only
        on_usage: UsageHook | None = None,  # e.g. a worker's metrics
        *,
        budgeted: bool = True,
    ) -> None:
        self.store = store
        self.settings = settings
        self.job_id = job_id
        self.step_id = step_id
        self.on_usage = on_usage
        self.budgeted = budgeted
        self._pending = TokenUsage()
        self._lock = threading.Lock()  # an agent may call its model from several threads

    def record(self, model: str, usage: Usage) -> None:
        """Count a reply's tokens, and their cost, for the step and its job."""
        cost = self.settings.llm_cost(model, usage.prompt_tokens, usage.completion_tokens)
        if not self.budgeted:
            with self._lock:
                pending = self._pending
                self._pending = TokenUsage(
                    prompt_tokens=pending.prompt_tokens + usage.prompt_tokens,
                    completion_tokens=pending.completion_tokens + usage.completion_tokens,
                    cost=pending.cost + cost,
                )
        else:
            self._write(
                TokenUsage(
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    cost=cost,
                )
            )
        if self.on_usage is not None:
            self.on_usage(model, usage, cost)

    def take(self) -> TokenUsage:
        """What was counted and not yet written; the caller writes it."""
        with self._lock:
            pending, self._pending = self._pending, TokenUsage()
        return pending

    def flush(self) -> None:
        """Write what was counted and not yet written."""
        pending = self.take()
        if pending.prompt_tokens or pending.completion_tokens or pending.cost:
            self._write(pending)

    def _write(self, spent: TokenUsage) -> None:
        self.store.add_usage(
            self.job_id, self.step_id, spent.prompt_tokens, spent.completion_tokens, spent.cost
        )

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


def metered(model: ChatModel | None, meter: StepMeter) -> ChatModel | None:
    """The step's view of the worker's model: counted by ``meter`` and under the job's
    budget (checked before each call unless the job is known to have none)."""
    if model is None:
        return None
    if tracing.enabled():
        from orchestrator.llm.traced import TracedChatModel

        model = TracedChatModel(model, content=meter.settings.trace_content)
    return MeteredChatModel(model, meter.record, meter.check if meter.budgeted else None)
