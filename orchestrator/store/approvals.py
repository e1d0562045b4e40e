"""The store's side of approvals: a step that waits for a person, and a person's answer.

The job's side of waiting (after planning, after a replanning) is in the scripts that
plan and replan it (start, create, extend); these are the scripts that end a wait:
``approve.lua`` (exactly one approval counts), ``reject.lua`` (a person's no, or the
sweeper's expiry), and ``ask.lua`` (a claimed step that needs a yes).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import redis

from orchestrator import names
from orchestrator.models import Plan, Replan, Step
from orchestrator.store.records import Followups, layout

Run = Callable[..., Any]  # Store._run: a job script, by name, with its job id and arguments


class ApprovalRecords:
    """Approvals in Redis (``Store.approvals``)."""

    def __init__(self, client: redis.Redis, run: Run, result_ttl: int) -> None:
        self.redis = client
        self._run = run
        self.result_ttl = result_ttl

    def approved(self, job_id: str, step_id: str) -> bool:
        """Whether a person said yes to the step (it then runs without asking again)."""
        return bool(self.redis.hget(names.step_key(job_id, step_id), "approved"))

    def waiting_since(self, job_id: str, step_id: str | None) -> float | None:
        """When the job's (or its step's) wait for a person began, in Unix seconds: its
        deadline less the job's approval timeout; None if it does not wait."""
        until, timeout = self.redis.hmget(
            names.job_key(job_id), "approval_until", "approval_timeout"
        )
        if step_id is not None:
            until = self.redis.hget(names.step_key(job_id, step_id), "approval_until")
        return float(until) - float(timeout or 0) if until else None

    def ask(self, job_id: str, step_id: str, dispatch: int, resolved: Any, timeout: float) -> bool:
        """Hold a claimed step (its input ``resolved``) for a person's yes; False if this
        dispatch no longer holds it."""
        return bool(self._run("ask", job_id, step_id, dispatch, json.dumps(resolved), timeout))

    def approve_plan(
        self,
        job_id: str,
        what: str,
        steps: Sequence[Step],
        plan: Plan,
        *,
        edited: bool,
        replans: Sequence[Replan] = (),
    ) -> Followups | str:
        """Run the ``steps`` a job awaits approval of (``what``: plan or replan), ``plan``
        being its whole plan with them; else why not (the job's status, or 'changed')."""
        return Followups.parse_started(
            self._run(
                "approve",
                job_id,
                "",
                what,
                json.dumps(layout(steps)),
                plan.answer_from or "",
                plan.model_dump_json(),
                json.dumps([replan.model_dump() for replan in replans]),
                "1" if edited else "",
            )
        )

    def approve_step(self, job_id: str, step_id: str) -> Followups | str:
        """Queue a step that awaits approval; else the step's status (or 'no-step')."""
        return Followups.parse_started(
            self._run("approve", job_id, step_id, "", "[]", "", "", "", "")
        )

    def reject(
        self, job_id: str, step_id: str | None, reason: str, *, expired: bool = False
    ) -> Followups | str:
        """End a wait with no: the job ends rejected (or expired), or the step fails with
        ``reason`` (then the job may be due to finalize). Else why not: the status of what
        was not waiting, 'no-step', or 'not-due' (an expiry before the deadline)."""
        reply = self._run(
            "reject",
            job_id,
            step_id or "",
            reason,
            "expired" if expired else "rejected",
            self.result_ttl,
        )
        return Followups.parse_ended(reply)
