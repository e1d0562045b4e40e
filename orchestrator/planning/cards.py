"""Capability cards: what the planner knows of each agent type.

A card is an agent type's name, description and input and output JSON schemas,
and what the type offers on the live workers: the list values of their
``Agent.capabilities`` (translation's installed pairs), joined. Workers publish the
cards of the types they serve when they start, and their capabilities with every
heartbeat, so the planner can plan for a type whose code the orchestrator never
imports: adding a type is starting a worker for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agents.base import Agent
from agents.llm import ChatModel


class AgentCard(BaseModel):
    """One agent type as the planner sees it."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    offers: dict[str, list[str]] = Field(
        default_factory=dict,
        description="What the live workers of the type can do, e.g. {'pairs': ['eng-spa']}.",
    )

    @classmethod
    def of(cls, agent: type[Agent], offers: Mapping[str, list[str]] | None = None) -> AgentCard:
        return cls(
            name=agent.name,
            description=agent.description,
            input_schema=agent.Input.model_json_schema(),
            output_schema=agent.Output.model_json_schema(),
            offers=dict(offers or {}),
        )


Cards = Mapping[str, AgentCard]


def cards_of(
    registry: Mapping[str, type[Agent]], model: ChatModel | None = None
) -> dict[str, AgentCard]:
    """The cards of every agent class in ``registry``, by name, with what they offer in
    this process (with ``model``, or offline)."""
    return {
        name: AgentCard.of(agent, joined_offers([agent.capabilities(model)]))
        for name, agent in sorted(registry.items())
    }


def joined_offers(capabilities: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Several workers' capabilities for one type as its offers: each list value the
    union of theirs (values that are not lists stay with the workers)."""
    joined: dict[str, set[str]] = {}
    for one in capabilities:
        for key, values in one.items():
            if isinstance(values, list):
                joined.setdefault(key, set()).update(str(value) for value in values)
    return {key: sorted(values) for key, values in sorted(joined.items())}
