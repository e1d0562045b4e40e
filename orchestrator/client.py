"""The Python SDK: submit plans, follow jobs, fetch results.

>>> from orchestrator import Client
>>> with Client() as client:                      # reads CELERIAC_* settings
...     job = client.submit(plan={"steps": [{"id": "a", "agent": "echo",
...                                          "input": {"text": "hi"}}]})
...     result = job.wait(timeout=60)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, get_args

from pydantic import ValidationError

from agents.registry import load_registry
from orchestrator.approval import Approvals
from orchestrator.errors import JobTimeout, UserError
from orchestrator.llm import build_chat_model
from orchestrator.models import (
    TERMINAL_JOB,
    Approval,
    Budget,
    DeadLetter,
    Event,
    Goal,
    JobResult,
    JobStatus,
    Plan,
)
from orchestrator.planning.cards import AgentCard
from orchestrator.plans import AgentTypes, check_plan_size, format_errors
from orchestrator.runtime import Runtime
from orchestrator.settings import Settings, read_settings
from orchestrator.store.connection import outlasting, redis_errors

Result = TypeVar("Result")

if TYPE_CHECKING:
    from orchestrator.conversations import Conversation


class JobHandle:
    """One job: its id, its state, its events, its result."""

    def __init__(self, client: Client, job_id: str) -> None:
        self.client = client
        self.id = job_id

    def __repr__(self) -> str:
        return f"JobHandle({self.id!r})"

    def status(self) -> str:
        """pending, awaiting_approval, running, succeeded, partial, failed, cancelled,
        rejected or expired."""
        with redis_errors(self.client.url):
            return self.client.runtime.store.job_status(self.id)

    def result(self) -> JobResult:
        """The job as it stands now, finished or not."""
        with redis_errors(self.client.url):
            return self.client.runtime.store.result(self.id)

    def events(
        self, *, after: str = "0", follow: bool = True, timeout: float | None = None
    ) -> Iterator[Event]:
        """The job's events from the start (or after an event id), as they happen.

        With ``follow`` the iterator ends after the job's ``job_finished`` event
        (raising ``JobTimeout`` if ``timeout`` seconds pass first); without it,
        after the events recorded so far.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise JobTimeout(self.id, timeout or 0.0, self.status())
            # Only a followed job's events ride out an outage; a look at them does not.
            riding = deadline if follow else time.monotonic()
            batch = self._riding_out(riding, self._next_events, after, follow)
            if batch is None:
                return
            for event in batch:
                after = event.id
                yield event
                if event.type == "job_finished":
                    return
            if not follow:
                return

    def _next_events(self, after: str, follow: bool) -> list[Event] | None:
        """The events after ``after`` (waiting up to a second for one, with ``follow``);
        None once a followed job has ended and has no more."""
        store = self.client.runtime.store
        batch = store.read_events(self.id, after, block_ms=1000 if follow else None)
        if not batch and follow and store.job_status(self.id) in TERMINAL_JOB:
            return store.read_events(self.id, after) or None
        return batch

    def wait(self, timeout: float | None = None) -> JobResult:
        """Block until the job ends; return its result. Raises ``JobTimeout``.

        Redis unreachable meanwhile (a restart, a cluster failover) is waited out for up
        to ``redis_outage_seconds``, within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return self._riding_out(deadline, self._wait, deadline, timeout)

    def _wait(self, deadline: float | None, timeout: float | None) -> JobResult:
        store = self.client.runtime.store
        # A job already over costs one round trip; a wrong id raises JobNotFound.
        result = store.result(self.id)
        while not result.done:
            left = 1.0 if deadline is None else deadline - time.monotonic()
            if left <= 0 and store.job_status(self.id) not in TERMINAL_JOB:
                raise JobTimeout(self.id, timeout or 0.0, store.job_status(self.id))
            # Blocks on the job's end stream: no polling while the job runs.
            if store.wait_end(self.id, max(1, int(min(left, 1.0) * 1000))) or left <= 0:
                result = store.result(self.id)
        return result

    def _riding_out(
        self, deadline: float | None, call: Callable[..., Result], *args: Any
    ) -> Result:
        """``call(*args)``, tried again while Redis is unreachable, up to the outage the
        settings allow and no later than ``deadline``; then ``RedisUnavailable``."""
        allowed = self.client.settings.redis_outage_seconds
        if deadline is not None:
            allowed = min(allowed, deadline - time.monotonic())
        with redis_errors(self.client.url):
            return outlasting(allowed)(call, *args)

    def cancel(self) -> JobStatus:
        """Stop dispatching the job's steps; return its status afterwards."""
        with redis_errors(self.client.url):
            return self.client.runtime.engine.cancel(self.id)

    def approve(
        self, plan: Plan | Mapping[str, Any] | None = None, *, step: str | None = None
    ) -> JobStatus:
        """Let the plan awaiting approval run, as it is or as ``plan`` (validated like any
        plan; an invalid one raises ``PlanError`` and the job keeps waiting), or the
        ``step`` awaiting approval; return the job's status. ``NotAwaitingApproval`` if
        nothing is waiting (also when someone else answered first)."""
        if plan is not None:
            check_plan_size(plan, max_bytes=self.client.settings.max_plan_bytes)
        with redis_errors(self.client.url):
            return Approvals(self.client.runtime.engine).approve(self.id, plan, step=step)

    def reject(self, reason: str, *, step: str | None = None) -> JobStatus:
        """Say no to what awaits approval: the job ends ``rejected`` with ``reason``, or the
        ``step`` fails with it (then the job goes on as after any failed step)."""
        with redis_errors(self.client.url):
            return Approvals(self.client.runtime.engine).reject(self.id, reason, step=step)


class Client:
    """Talks to one deployment: the Redis named by ``CELERIAC_REDIS_URL``."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or read_settings()
        self.runtime = Runtime.build(self.settings, load_registry(self.settings.agent_modules))
        self.url = self.runtime.url

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.runtime.engine.model is not None:
            self.runtime.engine.model.close()
        self.runtime.close()

    def known_agents(self) -> AgentTypes:
        """Agent types this process can import, plus those live workers serve."""
        with redis_errors(self.url):
            return self.runtime.engine.known_agents()

    def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """Steps that failed for good (after all their attempts), newest first."""
        with redis_errors(self.url):
            return self.runtime.store.dead_letters(count)

    def live_workers(self) -> dict[str, dict[str, Any]]:
        with redis_errors(self.url):
            return self.runtime.engine.live_workers()

    def check_ready(self, plan: Plan) -> None:
        """Raise ``NotReady`` (saying what to install) when no live worker can run a step
        of ``plan`` because its engine, model or extra is missing there."""
        from orchestrator.planning.readiness import unready

        problem = unready(plan, self.runtime.engine.local_agents, self.live_workers().values())
        if problem is not None:
            raise problem

    def cards(self) -> dict[str, AgentCard]:
        """The capability cards workers have published, by agent type: what a type does,
        also where this process cannot import it."""
        with redis_errors(self.url):
            return self.runtime.store.roster.cards()

    def submit(
        self,
        plan: Plan | Mapping[str, Any] | None = None,
        *,
        goal: str | None = None,
        collection: str | None = None,
        budget: Budget | Mapping[str, Any] | None = None,
        threshold: float | None = None,
        fallback_language: bool | None = None,
        approval: Approval | None = None,
        approval_timeout: float | None = None,
    ) -> JobHandle:
        """Submit a plan (validated now) or a goal in plain language (planned by an
        orchestrator worker); return the job's handle at once.

        ``collection`` names the documents a goal is about (default
        CELERIAC_DEFAULT_COLLECTION). A goal that asks for a language no live worker can
        produce raises ``PlanningError`` here, unless ``fallback_language`` (default
        CELERIAC_FALLBACK_LANGUAGE) allows the answer in English, with a warning in the
        result's ``warnings``. ``budget`` caps what the job's model calls may
        spend (tokens and/or USD: a ``Budget`` or ``{"tokens": 10000}``), the planner's
        included. A step whose main score falls under ``threshold`` (0-1) is run again
        (CELERIAC_SCORE_RETRIES times), then fails, and a model may replan its branch.
        ``approval="plan"`` (default CELERIAC_APPROVAL): once planned (and replanned) the
        job is ``awaiting_approval`` until ``job.approve()`` or ``job.reject(reason)``, or
        ends ``expired`` after ``approval_timeout`` s (CELERIAC_APPROVAL_TIMEOUT_SECONDS).

        >>> client.submit(goal="How do I reset my password? Answer in Spanish.")
        """
        if collection is not None and goal is None:
            raise UserError("collection goes with a goal: a plan names its collections itself")
        if fallback_language is not None and goal is None:
            raise UserError("fallback_language goes with a goal: a plan names its languages itself")
        if plan is not None:
            check_plan_size(plan, max_bytes=self.settings.max_plan_bytes)
        goal_model = (
            _goal(goal, collection, self._fallback(fallback_language)) if goal is not None else None
        )
        checked_budget, checked_threshold = _budget(budget), _threshold(threshold)
        _check_approval(approval, approval_timeout)
        with redis_errors(self.url):
            job_id = self.runtime.engine.submit(
                plan,
                checked_budget,
                goal=goal_model,
                threshold=checked_threshold,
                approval=approval,
                approval_timeout=approval_timeout,
            )
            return JobHandle(self, job_id)

    def plan(
        self,
        goal: str,
        *,
        collection: str | None = None,
        fallback_language: bool | None = None,
    ) -> Plan:
        """The plan this deployment's planner would make for ``goal``, without running it.

        Plans here, with the model of these settings (or the rules), for the agent
        types that live workers serve.
        """
        goal_model = _goal(goal, collection, self._fallback(fallback_language))
        with redis_errors(self.url):
            goal_model = self.runtime.engine.check_goal(goal_model)
            engine = self.runtime.engine
            if engine.model is None:
                engine.model = build_chat_model(self.settings, self.runtime.redis)
            return engine.plan_goal(goal_model)[0]

    def _fallback(self, fallback_language: object) -> bool:
        if fallback_language is None:
            return self.settings.fallback_language
        if not isinstance(fallback_language, bool):
            raise UserError(f"fallback_language must be True or False, not {fallback_language!r}")
        return fallback_language

    def conversation(
        self, collection: str | None = None, *, conversation_id: str | None = None
    ) -> Conversation:
        """A new conversation on ``collection`` (default CELERIAC_DEFAULT_COLLECTION), or
        the one ``conversation_id`` names: ``ask`` it questions, each a job whose goal
        carries what the earlier turns were about.

        >>> talk = client.conversation("demo")
        >>> talk.ask("How do I export my notes?").wait(timeout=60)
        >>> talk.ask("and can I do it on my phone?").wait(timeout=60)
        """
        from orchestrator.conversations import Conversation

        with redis_errors(self.url):
            return Conversation.open(self, collection, conversation_id)

    def get(self, job_id: str) -> JobHandle:
        """The handle of an existing job; raises ``JobNotFound``."""
        with redis_errors(self.url):
            self.runtime.store.job_status(job_id)
        return JobHandle(self, job_id)


def _goal(text: object, collection: object, fallback_language: bool = False) -> Goal:
    """The arguments as a ``Goal``; ``UserError`` if they are not strings."""
    if not isinstance(text, str):
        raise UserError(f"the goal must be a string, not {type(text).__name__}")
    if collection is not None and not isinstance(collection, str):
        raise UserError(
            f"collection must be a collection's name (a string), not {type(collection).__name__}"
        )
    return Goal(text=text, collection=collection, fallback_language=fallback_language)


def _budget(budget: object) -> Budget | None:
    """A ``Budget`` from one or a mapping; ``UserError`` naming what is wrong."""
    if budget is None or isinstance(budget, Budget):
        return budget
    if not isinstance(budget, Mapping):
        raise UserError(
            f"budget must be a Budget or a mapping such as {{'tokens': 10000, 'cost': 0.5}}, "
            f"not {type(budget).__name__}"
        )
    try:
        return Budget.model_validate(budget)
    except ValidationError as exc:
        raise UserError(
            f"invalid budget: {format_errors(exc.errors())} (a budget has tokens and/or cost, "
            "each above 0)"
        ) from None


def _threshold(threshold: object) -> float | None:
    if threshold is None:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise UserError(f"the threshold must be a number between 0 and 1, not {threshold!r}")
    return threshold


def _check_approval(approval: object, timeout: object) -> None:
    if approval is not None and approval not in get_args(Approval):
        raise UserError(f"approval must be 'plan' or 'none', not {approval!r}")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
    ):
        raise UserError(f"approval_timeout must be a number of seconds above 0, not {timeout!r}")
