"""Choosing the planner, and planning a goal in this process without a deployment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.base import Agent
from agents.llm import ChatModel
from orchestrator.models import Goal, Plan
from orchestrator.planning.base import Planner, check_goal, checker, plan_for
from orchestrator.planning.cards import cards_of
from orchestrator.planning.model import ModelPlanner
from orchestrator.planning.rules import RulePlanner
from orchestrator.settings import Settings


def plan_here(
    settings: Settings,
    registry: Mapping[str, type[Agent]],
    goal: str,
    collection: str | None,
    **options: Any,
) -> Plan:
    """Plan a goal in this process, for the agent types registered here (no deployment)."""
    from orchestrator.llm import build_chat_model  # the openai SDK only with a model

    checked = check_goal(Goal(text=goal, collection=collection, **options), settings)
    model = build_chat_model(settings, None)
    cards = cards_of(registry, model)  # what the workers would offer here
    try:
        planner = build_planner(settings, model)
        return plan_for(planner, checked, cards, checker(cards, registry, settings.max_plan_steps))
    finally:
        if model is not None:
            model.close()


def build_planner(settings: Settings, model: ChatModel | None) -> Planner:
    """The model's planner when there is a model, else the rules."""
    if model is None:
        return RulePlanner(settings.default_collection)
    return ModelPlanner(
        model,
        default_collection=settings.default_collection,
        repairs=settings.planner_repairs,
        synthesize=settings.planner_synthesis,
    )
