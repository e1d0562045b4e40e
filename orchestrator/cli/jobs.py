"""The job commands: run, submit, plan, status, watch, result, cancel."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from agents.base import Agent
from agents.collections import require_collection
from agents.errors import CeleriacError, CollectionError
from agents.registry import load_registry
from orchestrator.cli.approval import ask
from orchestrator.cli.common import err, errors_to_exit_codes, out, print_error, print_warning
from orchestrator.cli.display import (
    follow,
    render_awaiting,
    render_plan,
    render_result,
    result_json,
    status_line,
)
from orchestrator.client import Client
from orchestrator.embedded.deployment import Embedded, temporary_collection
from orchestrator.errors import UserError
from orchestrator.models import Budget, Goal, JobResult, Plan
from orchestrator.planning.base import check_goal, checker, plan_for
from orchestrator.planning.build import build_planner
from orchestrator.planning.cards import cards_of
from orchestrator.planning.goal_text import load_identifier_in_background
from orchestrator.planning.translators import check_goal_words
from orchestrator.plans import load_plan_file, validate_plan
from orchestrator.settings import Settings, read_settings

PlanFile = Annotated[
    Path | None,
    typer.Option("--plan", help="Plan JSON file (instead of a GOAL).", show_default=False),
]
GoalArg = Annotated[
    str | None,
    typer.Argument(
        metavar="[GOAL]", help="What you want done, in plain language.", show_default=False
    ),
]
Collection = Annotated[
    str | None,
    typer.Option(help="Collection the goal is about (default CELERIAC_DEFAULT_COLLECTION)."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the JobResult as JSON only.")]
JobArg = Annotated[str, typer.Argument(help="Job id.", show_default=False)]
Timeout = Annotated[float | None, typer.Option(help="Give up after this many seconds.")]
BudgetTokens = Annotated[
    int | None, typer.Option(min=1, help="Most tokens the job's model calls may use.")
]
BudgetCost = Annotated[
    float | None, typer.Option(min=0.000001, help="Most USD the job's model calls may cost.")
]
Threshold = Annotated[
    float | None,
    typer.Option(
        min=0.0, max=1.0, help="Least main score (0-1) a step must reach, else it is retried."
    ),
]
FallbackLanguage = Annotated[
    bool,
    typer.Option(
        "--fallback-language",
        help="Answer in English, with a warning, if the language the goal asks for cannot "
        "be produced here (default CELERIAC_FALLBACK_LANGUAGE); else exit 2 before running.",
    ),
]
ApprovePlan = Annotated[
    bool,
    typer.Option(
        "--approve-plan",
        help="Wait, once planned, for a person to approve the plan (`celeriac approve JOB`); "
        "default CELERIAC_APPROVAL.",
    ),
]
ApprovalTimeout = Annotated[
    float | None,
    typer.Option(
        min=0.001,
        help="Seconds a wait for approval lasts before the job (or step) expires "
        "(default CELERIAC_APPROVAL_TIMEOUT_SECONDS).",
    ),
]
_STOP_GRACE_SECONDS = 1.0


def _read_plan(path: Path, settings: Settings) -> Plan:
    raw = load_plan_file(path, max_bytes=settings.max_plan_bytes)
    return validate_plan(
        raw, load_registry(settings.agent_modules), max_steps=settings.max_plan_steps
    )


def _goal_or_plan(
    goal: str | None, plan: Path | None, collection: str | None, fallback_language: bool
) -> None:
    if (goal is None) == (plan is None):
        raise UserError('give a GOAL or --plan FILE (one of them): celeriac run "GOAL"')
    if plan is not None and collection is not None:
        raise UserError("--collection goes with a GOAL: a plan names its collections itself")
    if plan is not None and fallback_language:
        raise UserError("--fallback-language goes with a GOAL: a plan names its languages itself")


def _approval(settings: Settings, plan: bool, timeout: float | None) -> dict[str, Any]:
    """The settings a run's options change: what its job asks approval of, for how long."""
    return {
        "approval": "plan" if plan else settings.approval,
        "approval_timeout_seconds": timeout or settings.approval_timeout_seconds,
    }


def _require_collection(settings: Settings, name: str) -> None:
    try:
        require_collection(settings.data_dir, name)
    except CollectionError as exc:
        raise UserError(str(exc)) from None


def _finish(result: JobResult, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(result_json(result) + "\n")
    else:
        render_result(result, out)
    if result.status == "partial":
        err.print("[yellow]some steps failed; the answer is partial[/]")
    if result.status in ("failed", "cancelled", "rejected", "expired"):
        print_error(result.error or f"job {result.job_id} {result.status}")
        raise typer.Exit(1)


@errors_to_exit_codes
def run(
    goal: GoalArg = None,
    plan: PlanFile = None,
    collection: Collection = None,
    docs: Annotated[
        list[Path] | None,
        typer.Option(help="Files or folders to search, indexed for this run only (repeat)."),
    ] = None,
    as_json: JsonFlag = False,
    timeout: Timeout = None,
    budget_tokens: BudgetTokens = None,
    budget_cost: BudgetCost = None,
    threshold: Threshold = None,
    fallback_language: FallbackLanguage = False,
    approve_plan: ApprovePlan = False,
    approval_timeout: ApprovalTimeout = None,
) -> None:
    """Plan and run a GOAL (or run a --plan) start to finish on a deployment of its own.

    Uses CELERIAC_REDIS_URL if set, else a private Redis; starts its own workers
    and stops everything it started when done, also on Ctrl-C. With no --collection
    or --docs, the goal is about the demo collection that ships with celeriac.
    """
    _goal_or_plan(goal, plan, collection, fallback_language)
    if docs and (plan is not None or collection is not None):
        raise UserError("--docs goes with a GOAL and instead of --collection")
    settings = read_settings()
    checked = _read_plan(plan, settings) if plan is not None else None
    if goal is not None:  # refused before a Redis and workers are started for it
        check_goal(Goal(text=goal, collection=collection), settings)
        check_goal_words(goal)
        if collection is not None:  # this run's workers search this machine's collections
            _require_collection(settings, collection)
    budget = Budget(tokens=budget_tokens, cost=budget_cost)
    if fallback_language:
        settings = settings.model_copy(update={"fallback_language": True})
    if approve_plan or approval_timeout:
        settings = settings.model_copy(update=_approval(settings, approve_plan, approval_timeout))
    if settings.approval == "plan" and not settings.redis_url and not sys.stdin.isatty():
        raise UserError(
            "with no terminal to ask, a plan to approve needs CELERIAC_REDIS_URL, so that "
            "`celeriac approve JOB` can reach the job (a private Redis cannot be reached)"
        )
    with temporary_collection(settings.data_dir, docs or [], print_warning) as indexed:
        _run_embedded(
            settings, checked, goal, indexed or collection, budget, threshold, as_json, timeout
        )


def _run_embedded(
    settings: Settings,
    plan: Plan | None,
    goal: str | None,
    collection: str | None,
    budget: Budget,
    threshold: float | None,
    as_json: bool,
    timeout: float | None,
) -> None:
    embedded = Embedded(settings)
    if goal is not None:  # the goal's language is checked on submit: load its model meanwhile
        load_identifier_in_background()
    try:
        with err.status("starting Redis and workers", spinner="dots"):
            live = embedded.start()
        with Client(live) as client:
            handle = client.submit(
                plan, goal=goal, collection=collection, budget=budget, threshold=threshold
            )
            err.print(f"job {handle.id}", highlight=False)
            try:
                result = follow(handle, err, timeout, ask)
            except BaseException:
                with contextlib.suppress(CeleriacError):
                    handle.cancel()
                raise
    except BaseException:
        # Interrupted, timed out or broken: the job is cancelled and nobody waits for
        # its running steps, so the workers get no time to finish them.
        embedded.stop(grace=_STOP_GRACE_SECONDS)
        raise
    embedded.stop()
    _finish(result, as_json)


@errors_to_exit_codes
def submit(
    goal: GoalArg = None,
    plan: PlanFile = None,
    collection: Collection = None,
    wait: Annotated[bool, typer.Option(help="Wait for the result.")] = False,
    as_json: JsonFlag = False,
    timeout: Timeout = None,
    budget_tokens: BudgetTokens = None,
    budget_cost: BudgetCost = None,
    threshold: Threshold = None,
    fallback_language: FallbackLanguage = False,
    approve_plan: ApprovePlan = False,
    approval_timeout: ApprovalTimeout = None,
) -> None:
    """Submit a GOAL (or a --plan) to the deployment at CELERIAC_REDIS_URL; print the job id."""
    _goal_or_plan(goal, plan, collection, fallback_language)
    settings = read_settings()
    raw = load_plan_file(plan, max_bytes=settings.max_plan_bytes) if plan is not None else None
    budget = Budget(tokens=budget_tokens, cost=budget_cost)
    with Client(settings) as client:
        handle = client.submit(
            raw,
            goal=goal,
            collection=collection,
            budget=budget,
            threshold=threshold,
            fallback_language=fallback_language or None,
            approval="plan" if approve_plan else None,
            approval_timeout=approval_timeout,
        )
        if not wait:
            sys.stdout.write(handle.id + "\n")
            return
        err.print(f"job {handle.id}", highlight=False)
        result = handle.wait(timeout)
    _finish(result, as_json)


@errors_to_exit_codes
def plan_goal(
    goal: Annotated[str, typer.Argument(help="What you want done, in plain language.")],
    collection: Collection = None,
    fallback_language: FallbackLanguage = False,
) -> None:
    """Print the plan a GOAL would run, as plan JSON, without running it.

    With CELERIAC_REDIS_URL set, plans for the agent types that deployment's live
    workers serve; without, for the types registered here.
    """
    settings = read_settings()
    fallback = fallback_language or settings.fallback_language
    if settings.redis_url:
        with Client(settings) as client:
            made = client.plan(goal, collection=collection, fallback_language=fallback)
    else:
        registry = load_registry(settings.agent_modules)
        made = _plan_here(settings, registry, goal, collection, fallback_language=fallback)
    sys.stdout.write(made.model_dump_json(indent=2, exclude_defaults=True) + "\n")


@errors_to_exit_codes
def status(job_id: JobArg, as_json: JsonFlag = False) -> None:
    """Show a job's status and its steps' states."""
    with Client(read_settings()) as client:
        result = client.get(job_id).result()
    if as_json:
        sys.stdout.write(result_json(result) + "\n")
    else:
        out.print(status_line(result), highlight=False)
        render_plan(result, out)
        render_awaiting(result, out)


@errors_to_exit_codes
def watch(job_id: JobArg, timeout: Timeout = None) -> None:
    """Follow a job with live progress bars until it ends."""
    with Client(read_settings()) as client:
        result = follow(client.get(job_id), out, timeout, ask)
    out.print(status_line(result), highlight=False)


@errors_to_exit_codes
def result(job_id: JobArg, as_json: JsonFlag = False) -> None:
    """Print a job's result (as it stands, if it has not ended)."""
    with Client(read_settings()) as client:
        job_result = client.get(job_id).result()
    _finish(job_result, as_json)


@errors_to_exit_codes
def cancel(job_id: JobArg) -> None:
    """Cancel a job: nothing more of it is dispatched."""
    with Client(read_settings()) as client:
        status_after = client.get(job_id).cancel()
    out.print(f"{job_id} {status_after}", highlight=False)


def _plan_here(
    settings: Settings,
    registry: Mapping[str, type[Agent]],
    goal: str,
    collection: str | None,
    **options: Any,
) -> Plan:
    """Plan a goal in this process, for the agent types registered here (no deployment)."""
    from orchestrator.llm import build_chat_model  # the openai SDK only with a model

    checked = check_goal(Goal(text=goal, collection=collection, **options), settings)
    model = build_chat_model(settings, None)
    cards = cards_of(registry, model)  # what the workers would offer here
    try:
        planner = build_planner(settings, model)
        return plan_for(planner, checked, cards, checker(cards, registry, settings.max_plan_steps))
    finally:
        if model is not None:
            model.close()
