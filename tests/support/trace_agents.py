"""A test agent that tells which modules its worker process has imported."""

from __future__ import annotations

import sys

from pydantic import BaseModel

from agents import Agent, StepContext


class Packages(BaseModel):
    packages: list[str]


class Nothing(BaseModel):
    pass


class Loaded(Agent):
    name = "loaded"
    description = "Lists the modules its worker has imported."
    Input = Nothing
    Output = Packages

    def run(self, input: Nothing, context: StepContext) -> Packages:
        return Packages(packages=sorted(sys.modules))
