"""Agents that do nothing but what a benchmark needs, so it measures celeriac alone.

``noop`` returns its input; ``gather`` counts the texts it is given, the fan-in
step of a fan-out (its input is a list of ``{"$from": ...}`` references).

``echo`` in ``tests.support.sample_agents`` also counts its runs in Redis (on a new
connection each time) and reports progress: two more Redis round trips and one
more event per step.
"""

from __future__ import annotations

from pydantic import BaseModel

from agents import Agent, StepContext


class Text(BaseModel):
    text: str


class Noop(Agent):
    name = "noop"
    description = "Returns its text unchanged and touches nothing else."
    Input = Text
    Output = Text

    def run(self, input: Text, context: StepContext) -> Text:
        return input


class Texts(BaseModel):
    texts: list[str]


class Count(BaseModel):
    count: int


class Gather(Agent):
    name = "gather"
    description = "Counts the texts it is given (all its upstream steps' outputs)."
    Input = Texts
    Output = Count

    def run(self, input: Texts, context: StepContext) -> Count:
        return Count(count=len(input.texts))
