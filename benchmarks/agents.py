"""An agent that does nothing at all, so a benchmark measures celeriac alone.

``echo`` in ``tests.sample_agents`` also counts its runs in Redis (on a new
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
