"""Two tiny agent types for trying celeriac before the built-in agents arrive.

Use them with ``CELERIAC_AGENT_MODULES=examples.text_agents``.
"""

from __future__ import annotations

from pydantic import BaseModel

from agents import Agent, StepContext


class Text(BaseModel):
    text: str


class Texts(BaseModel):
    texts: list[str]
    separator: str = " "


class Stats(BaseModel):
    text: str
    words: int
    characters: int


class Shout(Agent):
    name = "shout"
    description = "Returns the text in upper case."
    Input = Text
    Output = Text

    def run(self, input: Text, context: StepContext) -> Text:
        return Text(text=input.text.upper())


class Join(Agent):
    name = "join"
    description = "Joins texts with a separator and counts the words of the result."
    Input = Texts
    Output = Stats

    def run(self, input: Texts, context: StepContext) -> Stats:
        text = input.separator.join(input.texts)
        return Stats(text=text, words=len(text.split()), characters=len(text))
