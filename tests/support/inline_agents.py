"""Agents that tests run in their own process (``workers.inline``, a StepRunner of their
own): they need nothing outside it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from agents.base import Agent, StepContext
from agents.errors import PermanentError
from agents.scoring import Score


class Words(BaseModel):
    text: str


class Upper(Agent):
    name = "upper"
    description = "Upper-cases its text; scores 1.0 if it had letters."
    Input = Words
    Output = Words

    def run(self, input: Words, context: StepContext) -> Words:
        if input.text == "boom":
            raise PermanentError("it went boom")
        return Words(text=input.text.upper())

    def score(
        self, input: Words, output: Words, reference: Mapping[str, Any] | None, context: Any
    ) -> list[Score]:
        if input.text == "unscorable":
            raise ValueError("a bug in the scorer")
        value = 0.2 if input.text == "poor" else 1.0
        return [Score(name="lettered", value=value, method="test")]


class Exclaim(Agent):
    name = "exclaim"
    description = "Adds an exclamation mark."
    Input = Words
    Output = Words

    def run(self, input: Words, context: StepContext) -> Words:
        return Words(text=input.text + "!")


REGISTRY: dict[str, type[Agent]] = {"upper": Upper, "exclaim": Exclaim}
