"""An agent type only one test worker can import: the client and orchestrator cannot."""

from __future__ import annotations

from pydantic import BaseModel

from agents import Agent, StepContext


class Number(BaseModel):
    value: int


class Double(Agent):
    name = "double"
    description = "Doubles a number."
    Input = Number
    Output = Number

    def run(self, input: Number, context: StepContext) -> Number:
        return Number(value=input.value * 2)
