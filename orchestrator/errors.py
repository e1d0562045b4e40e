"""Errors of the control plane.

The tree (the root and agent errors are in ``agents.errors``)::

    CeleriacError
    ├── UserError               the caller's input is wrong (CLI exit code 2)
    │   ├── ConfigError         settings or agent registry unusable
    │   ├── PlanError           a plan fails validation; names the step
    │   ├── PlanningError       no valid plan could be made for a goal
    │   ├── JobNotFound         no job with that id
    │   └── NotAwaitingApproval an approval of a job or step that is not waiting
    ├── RedisUnavailable        Redis cannot be reached (exit code 1)
    ├── JobTimeout              wait() ran out of time (exit code 1)
    ├── NotReady                no live worker can run a step: an engine, model or
    │                           extra is missing there (exit code 1)
    └── EvaluationFailed        every item of an evaluation failed (exit code 1)
"""

from __future__ import annotations

from agents.errors import CeleriacError


class UserError(CeleriacError):
    """The caller's input is wrong; the message says what and how to fix it."""


class ConfigError(UserError):
    """Settings, or the agent registry they name, cannot be used."""


class PlanError(UserError):
    """A plan is invalid. ``step_id`` names the step at fault, when there is one."""

    def __init__(self, message: str, *, step_id: str | None = None) -> None:
        super().__init__(message)
        self.step_id = step_id


class PlanningError(UserError):
    """The planner could not turn a goal into a valid plan; the message says why."""


class JobNotFound(UserError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r} (it never existed, or its results have expired)")
        self.job_id = job_id


class RedisUnavailable(CeleriacError):
    """Redis cannot be reached."""


class JobTimeout(CeleriacError):
    def __init__(self, job_id: str, timeout: float, status: str) -> None:
        super().__init__(f"job {job_id} is still {status} after {timeout:g}s")
        self.job_id = job_id
        self.status = status


class NotReady(CeleriacError):
    """No live worker can run a step of a plan (found before it is submitted)."""

    def __init__(self, message: str, *, step_id: str, agent: str) -> None:
        super().__init__(message)
        self.step_id = step_id
        self.agent = agent


class EvaluationFailed(CeleriacError):
    """Every item of an evaluation failed: there is nothing to measure."""


class NotAwaitingApproval(UserError):
    """An approval or rejection of a job (or step) that is not waiting for one."""

    def __init__(
        self, job_id: str, status: str, *, step_id: str | None = None, hint: str = ""
    ) -> None:
        what = f"step {step_id!r} of job {job_id}" if step_id else f"job {job_id}"
        super().__init__(
            f"{what} is {status}, not awaiting approval: there is nothing to decide{hint}"
        )
        self.job_id = job_id
        self.status = status
        self.step_id = step_id
