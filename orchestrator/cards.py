"""Capability cards: what the planner knows of each agent type.

A card is an agent type's name, description and input and output JSON schemas.
Workers publish the cards of the types they serve when they start, so the
planner can plan for a type whose code the orchestrator never imports: adding a
type is starting a worker for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from agents.base import Agent


class AgentCard(BaseModel):
    """One agent type as the planner sees it."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]

    @classmethod
    def of(cls, agent: type[Agent]) -> AgentCard:
        return cls(
            name=agent.name,
            description=agent.description,
            input_schema=agent.Input.model_json_schema(),
            output_schema=agent.Output.model_json_schema(),
        )


Cards = Mapping[str, AgentCard]


def cards_of(registry: Mapping[str, type[Agent]]) -> dict[str, AgentCard]:
    """The cards of every agent class in ``registry``, by name."""
    return {name: AgentCard.of(agent) for name, agent in sorted(registry.items())}
