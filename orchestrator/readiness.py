"""Before a plan runs: can some live worker run each of its steps?

A worker publishes, with its heartbeat, what each agent type it serves has there (an
engine, a model, an extra: ``Agent.capabilities``). A step whose input is known before
the run (it references no other step) is asked of its agent class here
(``Agent.unable``): when every live worker serving the type would fail it, the plan
cannot run, and the reason (what to install) is known at once, not after the job ran.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from agents.base import Agent
from orchestrator.errors import NotReady
from orchestrator.models import Plan
from orchestrator.plans import iter_refs


def unready(
    plan: Plan, agents: Mapping[str, type[Agent]], workers: Iterable[Mapping[str, Any]]
) -> NotReady | None:
    """Why no live worker (``workers``: their heartbeat infos) can run some step of
    ``plan``, or None. Types this process cannot import, and workers that publish no
    capabilities, are taken to be able."""
    workers = list(workers)
    for step in plan.steps:
        agent = agents.get(step.agent)
        if agent is None or any(True for _ in iter_refs(step.input)):
            continue
        serving = [info for info in workers if step.agent in info.get("agents", [])]
        published = [info.get("capabilities", {}).get(step.agent) for info in serving]
        if not serving or any(not isinstance(found, Mapping) for found in published):
            continue  # validation names a type nobody serves; old workers cannot tell
        try:
            data = agent.Input.model_validate(step.input)
        except ValidationError:
            continue  # the step will fail on its input, which the worker reports
        reasons = [agent.unable(data, found) for found in published]
        if all(reasons):
            return NotReady(
                f"step {step.id!r} cannot run on any live {step.agent} worker: {reasons[0]}",
                step_id=step.id,
                agent=step.agent,
            )
    return None
