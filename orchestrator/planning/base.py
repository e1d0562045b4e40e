"""The planner interface, and what every plan goes through: the goal checked, its
languages decided, the plan validated against the agent types' cards.

A planner gets the goal and one capability card per available agent type, and
returns a plan that ``check`` accepts (the same validation as any plan): the model's
planner (``model``), or without a model the rules (``rules``); ``build`` chooses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

from agents.base import Agent
from agents.collections import check_name
from agents.errors import CollectionError
from orchestrator.errors import UserError
from orchestrator.models import Goal, JobResult, Plan
from orchestrator.planning.cards import Cards
from orchestrator.planning.translators import check_languages, check_translations
from orchestrator.plans import validate_plan
from orchestrator.settings import Settings

# Validates a plan against the agent types that exist; raises PlanError.
Check = Callable[[Plan], Plan]


class Planner(ABC):
    """Turns a goal into a plan for the available agent types."""

    name: str

    @abstractmethod
    def plan(self, goal: Goal, cards: Cards, check: Check) -> Plan:
        """A plan ``check`` accepts, or ``PlanningError`` saying why there is none."""

    def replan(
        self, goal: Goal, result: JobResult, failed: str, cards: Cards, check: Check
    ) -> Plan | None:
        """New steps to take the place of a failed branch, or None if this planner cannot.

        ``check`` validates the new steps together with the job's succeeded ones.
        """
        return None


def checker(cards: Cards, local_agents: Mapping[str, type[Agent]], max_steps: int) -> Check:
    """Validation of planned plans: the types in ``cards`` only (their inputs checked
    where this process can import them), translations only where a live worker can."""
    types = {name: local_agents.get(name) for name in cards}

    def check(plan: Plan) -> Plan:
        checked = validate_plan(plan, types, max_steps=max_steps)
        check_translations(checked, cards)
        return checked

    return check


def plan_for(planner: Planner, goal: Goal, cards: Cards, check: Check) -> Plan:
    """``planner``'s plan for ``goal``, the languages it asks for decided first: a language
    no live worker can produce fails here, or (if the goal allows it) the plan answers in
    English and carries a warning."""
    goal, warnings = check_languages(goal, cards)
    plan = planner.plan(goal, cards, check)
    return plan.model_copy(update={"warnings": [*plan.warnings, *warnings]}) if warnings else plan


def check_goal(goal: Goal, settings: Settings) -> Goal:
    """The goal, trimmed; ``UserError`` if it is empty, too long, or names a bad collection."""
    text = goal.text.strip()
    if not text:
        raise UserError("the goal is empty: say in a sentence what you want done")
    if len(goal.text) > settings.max_goal_chars:
        raise UserError(
            f"the goal is {len(goal.text)} characters long; at most {settings.max_goal_chars} "
            "are allowed (CELERIAC_MAX_GOAL_CHARS): put long texts in documents (--docs) "
            "and ask about them"
        )
    if "\x00" in text:
        raise UserError("the goal contains a NUL character: give plain text")
    if goal.collection is not None:
        try:
            check_name(goal.collection)
        except CollectionError as exc:
            raise UserError(str(exc)) from None
    return goal.model_copy(update={"text": text})
