"""Running one step: claim it, resolve its input, run the agent, record the outcome."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from agents.backoff import backoff_delay
from agents.base import Agent, StepContext
from agents.errors import PermanentError, StepCancelled, TransientError
from agents.registry import Registry
from agents.scoring import Score, ScoreContext
from orchestrator import tracing
from orchestrator.llm import build_chat_model
from orchestrator.llm.metering import StepMeter, metered
from orchestrator.plans import ReferenceResolutionError, format_errors, iter_refs, resolve
from orchestrator.runtime import Runtime
from orchestrator.store.records import Claim, StepMessage
from workers.chain import Chained, Chaining
from workers.deltas import DeltaWriter
from workers.lease import LeaseKeeper
from workers.telemetry import Telemetry

log = logging.getLogger(__name__)
Progress = Callable[[float | None, str], None]  # fraction (None if unknown), message


class StepRunner:
    """Runs steps for the agent types of one worker. Thread-safe."""

    def __init__(self, runtime: Runtime, registry: Registry) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.settings = runtime.settings
        self.registry = registry
        self.leases = LeaseKeeper(runtime.store, runtime.settings.step_lease_seconds)
        self.telemetry = Telemetry()
        self.model = build_chat_model(runtime.settings, runtime.redis, self.telemetry.waited)
        self._agents: dict[str, Agent] = {}
        self._agents_lock = threading.Lock()
        self.chain: Chaining | None = None  # set by a worker that runs ready steps itself

    def agent(self, name: str) -> Agent:
        """One instance per agent type and process: agents may hold loaded resources."""
        with self._agents_lock:
            if name not in self._agents:
                cls = self.registry.get(name)
                if cls is None:
                    raise PermanentError(
                        f"this worker has no agent {name!r}: start one with "
                        f"`celeriac worker --agent {name}` and its module in CELERIAC_AGENT_MODULES"
                    )
                self._agents[name] = cls()
            return self._agents[name]

    def run(
        self,
        job_id: str,
        step_id: str,
        dispatch: int,
        agent: str,
        worker: str,
        on_progress: Progress | None = None,
        trace: str = "",
        task_id: str = "",
    ) -> str:
        """Run the step if this message may; return what happened, for the task's log.

        ``on_progress`` hears the step's progress reports too (the task sends them to
        Flower as a custom state). ``trace``: the W3C traceparent the message carried (else
        the job record's is used). With ``chain`` set, a dependent the step made ready runs
        next in this thread (``workers.chain``); ``task_id`` is the Celery task's, their parent.
        """
        message = StepMessage(job_id, step_id, dispatch, agent, "")
        said, after = self._run_one(message, None, worker, on_progress, trace)
        self._run_chained(after, worker, trace, task_id)
        return said

    def run_carried(self, message: StepMessage, worker: str, trace: str, parent: str) -> str:
        """Run a step that a message carried beside its first (``workers.batch``), shown
        in Flower as a task whose parent is the message's; and what it makes ready here."""
        said, after, shown = self._run_shown(message, None, worker, trace, parent)
        self._run_chained(after, worker, trace, shown)
        return said

    def _run_chained(self, after: Chained | None, worker: str, trace: str, parent: str) -> None:
        """Run the dependent a step claimed for this thread, and so on down the chain."""
        while after is not None and self.chain is not None:
            _, after, parent = self._run_shown(*after, worker, trace, parent)

    def _run_shown(
        self, message: StepMessage, claim: Claim | None, worker: str, trace: str, parent: str
    ) -> tuple[str, Chained | None, str]:
        """``_run_one`` with the task events Flower shows (``workers.chain.Shown``), and
        the id they give the step's task."""
        assert self.chain is not None
        shown = self.chain.shown(message, parent)
        try:
            said, after = self._run_one(message, claim, worker, shown.progress, trace)
        except BaseException as exc:
            shown.failed(exc)
            raise
        shown.succeeded(said)
        return said, after, shown.id

    def _run_one(
        self,
        message: StepMessage,
        claim: Claim | None,
        worker: str,
        on_progress: Progress | None,
        trace: str,
    ) -> tuple[str, Chained | None]:
        """What happened, and the ready dependent this thread runs next, claimed (None:
        none). ``claim``: the message's, if it is claimed already (a chained step)."""
        job_id, step_id, dispatch = message.job_id, message.step_id, message.dispatch
        if claim is None:
            claim = self.store.claim(
                job_id,
                step_id,
                dispatch,
                message.agent,
                worker,
                self.settings.step_lease_seconds,
                max_attempts=self.settings.step_max_attempts,
            )
        if not claim.ok:
            # A duplicate or superseded message; if the step is done, make sure
            # what it made due was published (its worker may have died before).
            self.runtime.engine.deliver(job_id, claim.followups)
            return f"not run: {claim.reason}", None
        if self._needs_yes(job_id, step_id, claim):
            return self._ask(job_id, step_id, dispatch, claim), None
        started = time.monotonic()
        parent = trace or claim.trace
        attempt = tracing.Attempt(job_id, step_id, claim.attempt, claim.agent, worker)
        if claim.lost is not None:  # the broker gave this message back after its worker died
            was = tracing.Attempt(job_id, step_id, claim.attempt - 1, claim.agent, claim.lost[0])
            tracing.lost(parent, was, claim.lost[1], claim.lost[2], time.time())
        attributes = attempt.attributes()
        with tracing.span(f"step {step_id}", parent, attributes) as span, tracing.job(parent):
            outcome, said, after = self._run_claimed(
                job_id, step_id, dispatch, claim, worker, on_progress
            )
            span.set({"celeriac.step.outcome": outcome})
            if outcome != "succeeded":
                span.fail(said)
        self.telemetry.step(claim.agent, outcome, time.monotonic() - started)
        return said, after

    def _needs_yes(self, job_id: str, step_id: str, claim: Claim) -> bool:
        """Whether the step's agent type asks a person first and no one has said yes."""
        cls = self.registry.get(claim.agent)
        if cls is None or not cls.needs_approval:
            return False
        return not self.store.approvals.approved(job_id, step_id)

    def _ask(self, job_id: str, step_id: str, dispatch: int, claim: Claim) -> str:
        """Hold the step for a person, with its input resolved as it would run."""
        try:
            resolved = self._resolved(job_id, claim.input, claim.known)
        except ReferenceResolutionError as exc:
            return self._fail(job_id, step_id, dispatch, f"{exc}", None)
        timeout = self.settings.approval_timeout_seconds
        if self.store.approvals.ask(job_id, step_id, dispatch, resolved, timeout):
            return "awaiting approval"
        return "not run: superseded"

    def _resolved(self, job_id: str, raw_input: dict[str, Any], known: Mapping[str, Any]) -> Any:
        """The step's input with its ``$from`` references replaced by upstream outputs
        (those in ``known`` as they are, the others read from the store)."""
        sources = sorted({source for source, _ in iter_refs(raw_input)} - known.keys())
        return resolve(raw_input, {**known, **self.store.outputs(job_id, sources)})

    def _run_claimed(
        self,
        job_id: str,
        step_id: str,
        dispatch: int,
        claim: Claim,
        worker: str,
        on_progress: Progress | None,
    ) -> tuple[str, str, Chained | None]:
        """(the outcome, for metrics; what happened, for the task's log; the ready
        dependent this thread runs next, if any)."""
        # Without a budget, no call needs the job's spending at once: the step's
        # completion writes what its calls spent, and any other ending before it.
        meter = StepMeter(
            self.store,
            self.settings,
            job_id,
            step_id,
            self.telemetry.usage,
            budgeted=claim.budgeted,
        )
        self.leases.hold(job_id, step_id, dispatch)
        try:
            output, scores = self._execute(
                job_id, step_id, dispatch, claim, worker, meter, on_progress
            )
            tracing.annotate({f"celeriac.score.{score.name}": score.value for score in scores})
        except Exception as exc:
            meter.flush()
            return *self._ended(job_id, step_id, dispatch, claim, exc), None
        finally:
            self.leases.release(job_id, step_id)
        if claim.threshold is not None and scores and scores[0].value < claim.threshold:
            meter.flush()
            said = self._under_threshold(job_id, step_id, dispatch, claim, output, scores)
            return "under_threshold", said, None
        return (
            "succeeded",
            "succeeded",
            self._completed(job_id, step_id, output, scores, meter, worker),
        )

    def _completed(
        self,
        job_id: str,
        step_id: str,
        output: Any,
        scores: list[Score],
        meter: StepMeter,
        worker: str,
    ) -> Chained | None:
        """Record the step's output, publish what it made due, and return the dependent
        claimed for this thread, if any (with this output at hand: it need not fetch it)."""
        followups = self.store.complete(
            job_id,
            step_id,
            output,
            scores,
            usage=meter.take(),
            worker=worker,
            lease=self.settings.step_lease_seconds,
            chain=self.chain.agents() if self.chain is not None else (),
        )
        self.runtime.engine.deliver(job_id, followups)
        if followups.chained is None:
            return None
        message, claim = followups.chained
        return message, replace(claim, known={step_id: output})

    def _ended(
        self, job_id: str, step_id: str, dispatch: int, claim: Claim, exc: Exception
    ) -> tuple[str, str]:
        """Record a step that ended with ``exc``: stopped, to retry, or failed."""
        if isinstance(exc, StepCancelled):
            self.store.stopped(job_id, step_id, dispatch)
            return "cancelled", "stopped: the job was cancelled"
        if isinstance(exc, TransientError):
            delay = backoff_delay(
                self.settings.retry_backoff_seconds,
                self.settings.retry_backoff_max_seconds,
                claim.attempt,
                exc.retry_after,
            )
            return "transient_error", self._fail(job_id, step_id, dispatch, f"{exc}", delay)
        if isinstance(exc, PermanentError | ReferenceResolutionError):
            return "permanent_error", self._fail(job_id, step_id, dispatch, f"{exc}", None)
        log.error("step %s/%s (agent %s) raised", job_id, step_id, claim.agent, exc_info=exc)
        error = f"{type(exc).__name__}: {exc}"
        return "permanent_error", self._fail(job_id, step_id, dispatch, error, None)

    def _under_threshold(
        self,
        job_id: str,
        step_id: str,
        dispatch: int,
        claim: Claim,
        output: Any,
        scores: list[Score],
    ) -> str:
        """Run a step that scored too low again, at once, or fail it (a model may replan)."""
        main = scores[0]
        self.store.keep_attempt(job_id, step_id, claim.attempt, output, scores)
        error = (
            f"scored {main.value:.3f} ({main.name}, {main.method}) under the job's "
            f"threshold {claim.threshold:g}"
        )
        again = claim.attempt <= self.settings.score_retries
        # The sweeper sends a retry when its delay is up: the next sweep, for this one.
        return self._fail(job_id, step_id, dispatch, error, 0.01 if again else None)

    def _fail(
        self, job_id: str, step_id: str, dispatch: int, error: str, delay: float | None
    ) -> str:
        followups = self.store.fail(
            job_id,
            step_id,
            dispatch,
            error,
            retry_delay=delay,
            max_attempts=self.settings.step_max_attempts,
        )
        self.runtime.engine.deliver(job_id, followups)
        return f"failed: {error}"

    def _execute(
        self,
        job_id: str,
        step_id: str,
        dispatch: int,
        claim: Claim,
        worker: str,
        meter: StepMeter,
        on_progress: Progress | None = None,
    ) -> tuple[Any, list[Score]]:
        """The step's output as JSON, and its scores."""
        agent_name, raw_input = claim.agent, claim.input
        agent = self.agent(agent_name)
        resolved = self._resolved(job_id, raw_input, claim.known)
        try:
            validated = agent.Input.model_validate(resolved)
        except ValidationError as exc:
            raise PermanentError(
                f"input is invalid for agent {agent_name!r}: {format_errors(exc.errors())}"
            ) from exc
        deltas = DeltaWriter(self.store.redis, job_id, step_id, claim.attempt)
        context = StepContext(
            job_id=job_id,
            step_id=step_id,
            attempt=claim.attempt,
            agent=agent_name,
            worker=worker,
            data_dir=self.settings.data_dir,
            model=metered(self.model, meter),
            report=self._reporter(job_id, step_id, dispatch, on_progress),
            is_cancelled=lambda: self.leases.is_cancelled(job_id),
            stream=deltas.write,
        )
        try:
            output = _as_output(agent, agent.run(validated, context))
        finally:
            deltas.flush()
        return output.model_dump(mode="json"), self._score(
            agent, validated, output, claim.reference, context
        )

    def _reporter(
        self, job_id: str, step_id: str, dispatch: int, on_progress: Progress | None
    ) -> Progress:
        """Progress reports to Redis, at most ten a second but always the last one (1.0)."""
        last_report = 0.0

        def report(fraction: float | None, message: str) -> None:
            nonlocal last_report
            now = time.monotonic()
            if fraction == 1.0 or now - last_report >= 0.1:
                last_report = now
                self.store.progress(job_id, step_id, dispatch, fraction, message)
                if on_progress is not None:
                    on_progress(fraction, message)

        return report

    def _score(
        self,
        agent: Agent,
        input: BaseModel,
        output: BaseModel,
        reference: Mapping[str, Any] | None,
        context: StepContext,
    ) -> list[Score]:
        """The agent's scores of its output; none when scoring is off or the hook fails."""
        if not self.settings.scoring:
            return []
        judge = context.model if self.settings.scoring_judge else None
        try:
            return agent.score(input, output, reference, ScoreContext(step=context, model=judge))
        except Exception:
            log.warning("scoring step %s (%s) failed", context.step_id, agent.name, exc_info=True)
            return []


def _as_output(agent: Agent, output: Any) -> BaseModel:
    """``output`` as the agent's ``Output``, or a permanent error saying why it is not."""
    if isinstance(output, agent.Output):
        return output
    try:
        return agent.Output.model_validate(
            output.model_dump() if isinstance(output, BaseModel) else output
        )
    except ValidationError as exc:
        raise PermanentError(
            f"agent {agent.name!r} returned output that is not its Output: "
            + format_errors(exc.errors())
        ) from exc
