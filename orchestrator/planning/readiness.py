"""Before a plan runs: can some live worker run each of its steps?

A worker publishes, with its heartbeat, what each agent type it serves has there (an
engine, a model, an extra: ``Agent.capabilities``). A step whose input is known before
the run (it references no other step) is asked of its agent class here
(``Agent.unable``): when every live worker serving the type would fail it, the plan
cannot run, and the reason (what to install) is known at once, not after the job ran.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from agents.base import Agent
from agents.llm import ChatModel
from orchestrator.errors import NotReady
from orchestrator.models import Plan
from orchestrator.plans import iter_refs

log = logging.getLogger(__name__)


def published(
    agents: Mapping[str, type[Agent]], served: Sequence[str], model: ChatModel | None
) -> dict[str, dict[str, Any]]:
    """What each served type has on this machine (``Agent.capabilities``), as a worker
    publishes it; a type whose hook fails says nothing (clients then do not check it)."""
    found = {}
    for name in served:
        try:
            found[name] = agents[name].capabilities(model)
        except Exception:
            log.exception("agent type %s: capabilities() failed; clients will not check", name)
    return found


def unready_here(plan: Plan, agents: Mapping[str, type[Agent]]) -> NotReady | None:
    """``unready`` for workers that would start on this machine, on the offline path
    (embedded mode checks this before it starts them)."""
    here = {"agents": list(agents), "capabilities": published(agents, list(agents), None)}
    return unready(plan, agents, [here], "the workers of this machine")


def unready(
    plan: Plan,
    agents: Mapping[str, type[Agent]],
    workers: Iterable[Mapping[str, Any]],
    where: str = "any live {agent} worker",
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
                f"step {step.id!r} cannot run on {where.format(agent=step.agent)}: {reasons[0]}",
                step_id=step.id,
                agent=step.agent,
            )
    return None
