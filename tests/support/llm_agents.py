"""A test agent that asks the step's chat model: the LLM path through real workers."""

from __future__ import annotations

from pydantic import BaseModel

from agents import Agent, PermanentError, StepContext
from agents.llm import Message


class Question(BaseModel):
    question: str


class Answer(BaseModel):
    answer: str


class Ask(Agent):
    name = "ask"
    description = "Asks the configured chat model a question."
    Input = Question
    Output = Answer

    def run(self, input: Question, context: StepContext) -> Answer:
        if context.model is None:
            raise PermanentError("no chat model is configured (CELERIAC_LLM_BACKEND=offline)")
        reply = context.model.chat([Message(role="user", content=input.question)])
        return Answer(answer=reply.text)


class Doubt(Ask):
    name = "doubt"
    description = "Asks the configured chat model a question, then fails: it doubts the answer."

    def run(self, input: Question, context: StepContext) -> Answer:
        answer = super().run(input, context).answer
        raise PermanentError(f"not sure about {answer!r}")
