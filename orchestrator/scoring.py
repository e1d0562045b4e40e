"""Scoring steps and jobs: which scorer measures which agent type's output, and the job's score.

A scorer is a function of a step's input, output, optional reference and a
``ScoreContext``; it returns ``Score`` values in [0, 1], the main one first. The
built-in agent types have one each in ``orchestrator/scorers/`` (a new type's
scorer is a new module there, named after the type). A scorer that fails costs
the step its scores, never its result.
"""

from __future__ import annotations

import importlib
import logging
import statistics
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from agents.base import Agent, StepContext
from agents.errors import AgentError
from agents.llm import ChatModel, Message
from orchestrator.models import JobResult, Score

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreContext:
    """What a scorer may use besides the output."""

    agent: Agent  # the agent that made the output (a round trip translates back with it)
    step: StepContext
    model: ChatModel | None  # a judge, or None: measure without a model


Scorer = Callable[[Any, Any, Mapping[str, Any] | None, ScoreContext], list[Score]]
_SCORERS: dict[str, Scorer | None] = {}


def scorer_for(agent: str) -> Scorer | None:
    """The scorer of an agent type, from ``orchestrator.scorers.<type>``; None if it has none."""
    if agent not in _SCORERS:
        name = agent.replace("-", "_")
        try:
            module = importlib.import_module(f"orchestrator.scorers.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"orchestrator.scorers.{name}":
                raise
            _SCORERS[agent] = None
        else:
            _SCORERS[agent] = getattr(module, "score", None)
    return _SCORERS[agent]


def score_step(
    agent_name: str,
    input: BaseModel,
    output: BaseModel,
    reference: Mapping[str, Any] | None,
    context: ScoreContext,
) -> list[Score]:
    """The step's scores; none when its type has no scorer or the scorer fails."""
    scorer = scorer_for(agent_name)
    if scorer is None:
        return []
    try:
        return scorer(input, output, reference, context)
    except Exception:
        log.warning("scoring step %s (%s) failed", context.step.step_id, agent_name, exc_info=True)
        return []


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


def job_score(result: JobResult, skip: Collection[str] = ()) -> float | None:
    """The mean of the main scores of the job's succeeded, scored steps (except ``skip``)."""
    mains = [
        step.scores[0].value
        for step_id, step in result.steps.items()
        if step.status == "succeeded" and step.scores and step_id not in skip
    ]
    return round(statistics.fmean(mains), 6) if mains else None
