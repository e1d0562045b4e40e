"""The agent contract: a named, described unit of work with typed input and output."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from agents.context import StepContext
from agents.llm.base import ChatModel
from agents.scoring import Score, ScoreContext

__all__ = ["Agent", "Score", "ScoreContext", "StepContext"]


class Agent:
    """Base class of every agent type.

    A concrete agent sets four class attributes and implements ``run``::

        class Echo(Agent):
            name = "echo"
            description = "Returns its text unchanged."
            Input = EchoInput
            Output = EchoOutput

            def run(self, input: EchoInput, context: StepContext) -> EchoOutput:
                return EchoOutput(text=input.text)

    ``run`` is called with a validated ``Input`` and must return an ``Output``.
    It may raise ``TransientError`` (retried) or ``PermanentError`` (fails the step).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    Input: ClassVar[type[BaseModel]]
    Output: ClassVar[type[BaseModel]]
    # True for an agent whose steps a person approves before they run (one that sends an
    # e-mail, or issues a refund): each step waits, its resolved input shown, holding no worker.
    needs_approval: ClassVar[bool] = False

    def run(self, input: Any, context: StepContext) -> BaseModel:
        raise NotImplementedError

    def score(
        self,
        input: Any,
        output: Any,
        reference: Mapping[str, Any] | None,
        context: ScoreContext,
    ) -> list[Score]:
        """Measure one output (a validated ``Output`` for a validated ``Input``), the main
        score first, each in [0, 1]; ``reference`` is what the plan gave the step to compare
        with, if anything. Runs on the worker after ``run``; what it raises costs the step
        its scores, never its result. None by default."""
        return []

    @classmethod
    def capabilities(cls, model: ChatModel | None) -> dict[str, Any]:
        """What a worker serving this type has beyond its code (an engine, a model, an
        extra), as JSON, given the worker's chat model (None: the offline path).

        Workers publish it with every heartbeat. A client runs ``unable`` against it
        before it submits; the planner joins its list values over the live workers of the
        type (translation's ``{"pairs": ["eng-spa"]}``) into the type's card.
        """
        return {}

    @classmethod
    def warm_up(cls) -> None:
        """Load what the first step would otherwise wait for (a library to import, an
        engine to start). A worker calls it in a background thread once it is ready, so
        that it is seen alive sooner; a step that comes first waits for the import lock,
        never loads twice. Nothing by default."""

    @classmethod
    def unable(cls, input: Any, capabilities: Mapping[str, Any]) -> str | None:
        """Why a worker with ``capabilities`` cannot run ``input`` (a validated ``Input``),
        saying what to install; None when it can, or cannot tell without running it."""
        return None

    @classmethod
    def is_concrete(cls) -> bool:
        """True for a class that defines everything a registered agent needs."""
        return (
            not inspect.isabstract(cls)
            and cls.run is not Agent.run
            and all(hasattr(cls, attr) for attr in ("name", "description", "Input", "Output"))
        )
