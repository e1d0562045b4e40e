"""Choosing the planner, and planning a goal in this process without a deployment."""

from __future__ import annotations

from agents.llm import ChatModel
from orchestrator.planning.base import Planner
from orchestrator.planning.model import ModelPlanner
from orchestrator.planning.rules import RulePlanner
from orchestrator.settings import Settings


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
