"""Scores: what an agent's ``score`` hook returns, what it may use, and a model's rating.

Each built-in type's scorer sits beside this module (``generation``, ``retrieval``,
``translation``), with the measures they share with ``celeriac eval`` (``metrics``); a
third-party type scores in its own ``Agent.score``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from agents.context import StepContext
from agents.errors import AgentError
from agents.llm import ChatModel, Message


class Score(BaseModel):
    """One measurement of a step's output, in [0, 1] (higher is better).

    ``method`` says how it was measured (``sacrebleu``, ``trec_eval``, ``lexical``,
    ``llm:MODEL``...); ``proxy`` marks an indirect estimate, such as word overlap
    standing in for relevance.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    value: float
    method: str
    proxy: bool = False


@dataclass(frozen=True)
class ScoreContext:
    """What a scorer may use besides the output."""

    step: StepContext
    model: ChatModel | None  # a judge, or None: measure without a model


class Rating(BaseModel):
    rating: int = Field(ge=1, le=5, description="1 = worst, 5 = best.")


def rate(rubric: str, material: str, context: ScoreContext, what: str) -> Score | None:
    """``judged_quality``: the model's 1-5 rating of ``material`` by ``rubric``, as 0-1;
    None (and a warning) if the model fails, so the step keeps its other scores."""
    assert context.model is not None
    messages = [Message(role="system", content=rubric), Message(role="user", content=material)]
    try:
        rated, _ = context.model.structured(messages, Rating, max_tokens=20)
    except AgentError as exc:
        context.step.logger.warning("%s judgement failed (%s)", what, exc)
        return None
    return Score(
        name="judged_quality", value=(rated.rating - 1) / 4, method=f"llm:{context.model.model}"
    )
