"""The agent contract: a named, described unit of work with typed input and output."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from agents.errors import StepCancelled
from agents.llm.base import ChatModel


def _no_progress(fraction: float | None, message: str) -> None:
    return None


def _never_cancelled() -> bool:
    return False


def _no_stream(text: str) -> None:
    return None


@dataclass(frozen=True)
class StepContext:
    """What a running step knows about itself, and how it talks back.

    >>> ctx = StepContext(job_id="j1", step_id="a", attempt=1, agent="echo")
    >>> ctx.progress(0.5, "halfway")   # shows in `celeriac watch` and the event stream
    """

    job_id: str
    step_id: str
    attempt: int
    agent: str
    worker: str = ""
    data_dir: Path = field(default_factory=lambda: Path("."))  # CELERIAC_DATA_DIR
    # The chat model (metered for this step), or None on the offline path.
    model: ChatModel | None = field(default=None, repr=False)
    report: Callable[[float | None, str], None] = field(default=_no_progress, repr=False)
    is_cancelled: Callable[[], bool] = field(default=_never_cancelled, repr=False)
    stream: Callable[[str], None] = field(default=_no_stream, repr=False)

    def progress(self, fraction: float | None = None, message: str = "") -> None:
        """Report progress: ``fraction`` in [0, 1] (None if unknown) and a short message."""
        if fraction is not None and not 0.0 <= fraction <= 1.0:
            raise ValueError(f"progress fraction must be within [0, 1], got {fraction}")
        self.report(fraction, message)

    def write(self, text: str) -> None:
        """Hand on the next piece of the output as it is written (an answer's sentence,
        a model's tokens): followers of the job's events see it before the step ends.
        The step's output is still what ``run`` returns."""
        if text:
            self.stream(text)

    @property
    def cancelled(self) -> bool:
        """True once the job was cancelled: a long step may stop early."""
        return self.is_cancelled()

    def stop_if_cancelled(self) -> None:
        """Raise ``StepCancelled`` once the job was cancelled; call it between units of work."""
        if self.is_cancelled():
            raise StepCancelled(f"step {self.step_id} stopped: its job was cancelled")

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger(f"celeriac.agent.{self.agent}")


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

    def run(self, input: Any, context: StepContext) -> BaseModel:
        raise NotImplementedError

    @classmethod
    def capabilities(cls, model: ChatModel | None) -> dict[str, Any]:
        """What a worker serving this type has beyond its code (an engine, a model, an
        extra), as JSON; workers publish it so that a client can run ``unable`` before
        it submits. ``model`` is the worker's chat model (None: the offline path)."""
        return {}

    @classmethod
    def unable(cls, input: Any, capabilities: Mapping[str, Any]) -> str | None:
        """Why a worker with ``capabilities`` cannot run ``input`` (a validated ``Input``),
        saying what to install; None when it can, or cannot tell without running it."""
        return None

    @classmethod
    def offers(cls, model: ChatModel | None) -> dict[str, list[str]]:
        """What this type can do on this worker beyond its schemas, for the planner: named
        lists (e.g. translation's ``{"pairs": ["eng-spa"]}``), given the worker's chat model.

        A worker publishes them with its heartbeat; the planner joins the lists of every
        live worker of the type. None by default.
        """
        return {}

    @classmethod
    def is_concrete(cls) -> bool:
        """True for a class that defines everything a registered agent needs."""
        return (
            not inspect.isabstract(cls)
            and cls.run is not Agent.run
            and all(hasattr(cls, attr) for attr in ("name", "description", "Input", "Output"))
        )
