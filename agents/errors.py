"""The root of celeriac's exceptions, and the errors an agent may raise.

Every error celeriac raises derives from ``CeleriacError``. The whole tree
(agent errors live here because ``agents`` imports nothing else of celeriac;
the rest live in ``orchestrator.errors``)::

    CeleriacError
    ├── AgentError              an agent could not do its step
    │   ├── TransientError      worth retrying (rate limit, timeout, connection reset)
    │   ├── PermanentError      retrying cannot help (bad input, refused request)
    │   │   └── CollectionError a document collection is missing, invalid or unreadable
    │   └── StepCancelled       the step stopped early because its job was cancelled
    ├── RegistryError           an agent module or entry point is broken
    └── orchestrator.errors.*   plans, jobs, settings, Redis
"""

from __future__ import annotations


class CeleriacError(Exception):
    """Base class of every error celeriac raises."""


class AgentError(CeleriacError):
    """An agent could not do its step.

    ``job_id``, ``step_id`` and ``agent`` are filled in by the worker that ran
    the step, so a message can say where the error happened.
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        step_id: str | None = None,
        agent: str | None = None,
    ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.step_id = step_id
        self.agent = agent


class TransientError(AgentError):
    """A failure that may go away: the step is retried with backoff.

    ``retry_after`` (seconds), when known, is the least the retry waits.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(AgentError):
    """A failure retrying cannot fix: the step fails at once."""


class StepCancelled(AgentError):
    """The job was cancelled and the step stopped early: raised by
    ``StepContext.stop_if_cancelled``; the step ends ``cancelled``."""


class RegistryError(CeleriacError):
    """An agent module, class or entry point cannot be used."""


class CollectionError(PermanentError):
    """A document collection cannot be built, found or read; the message says how to fix it."""
