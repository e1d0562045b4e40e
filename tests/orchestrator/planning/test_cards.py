"""Capability cards: what a type offers, joined over the live workers that serve it."""

from __future__ import annotations

from agents.registry import load_registry
from orchestrator.planning.cards import AgentCard, cards_of, joined_offers


def test_the_offers_of_several_workers_are_joined_list_by_list() -> None:
    joined = joined_offers(
        [
            {"pairs": ["eng-spa", "spa-eng"]},
            {"pairs": ["eng-cat", "eng-spa"]},
            {},
            {"models": ["m"]},
        ]
    )
    assert joined == {"models": ["m"], "pairs": ["eng-cat", "eng-spa", "spa-eng"]}


def test_a_card_without_offers_reads_back_as_offering_nothing() -> None:
    registry = load_registry()
    card = AgentCard.of(registry["retrieval"])
    old = card.model_dump(exclude={"offers"})  # published by a worker of an earlier release
    assert AgentCard.model_validate(old).offers == {}
    assert cards_of(registry)["retrieval"].offers == {}
