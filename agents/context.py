"""What a running step knows about itself (``StepContext``), and how it talks back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
