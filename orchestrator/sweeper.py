"""Crash recovery: what a dead worker, a lost message, a restarted Redis or a broker that
went away left behind.

Every worker with the orchestrator role sweeps now and then (``celeriac worker``,
``Sweeper.sweep``), and one sweep at a time does (a lock in the store): steps whose
lease expired are requeued or failed, messages the outbox still holds are sent again,
the unclaimed messages of a worker that vanished are sent again, and all of them after
Redis restarted or a worker reconnected to the broker, and plan and finalize tasks whose
time came are resent. Sending twice is safe: a copy that arrives second finds its step
claimed and is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator import tracing
from orchestrator.settings import Settings
from orchestrator.store.jobs import Store
from orchestrator.store.records import Followups, StepMessage
from orchestrator.transport.dispatch import Dispatcher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    expired: int = 0
    resent: int = 0
    rewatched: int = 0
    lost_workers: int = 0


class Sweeper:
    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        settings: Settings,
        deliver: Callable[[str, Followups], None],
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.settings = settings
        self.deliver = deliver  # the engine's: publish what a change made due

    def sweep(self) -> SweepReport:
        """Recover from crashes: requeue steps whose lease expired, send stranded messages."""
        expired = rewatched = 0
        stranded: list[StepMessage] = []
        for shard in self.store.outbox.due():
            expired += self._expire(shard.leases)
            stranded += shard.messages
            for member in shard.watched:
                kind, _, job_id = member.partition(" ")
                if kind == "approval":  # a wait for a person ran out: the script drops it
                    self._time_up(*job_id.partition(" ")[::2])
                    continue
                if kind == "plan":
                    self.dispatcher.send_plan(job_id)
                else:
                    self.dispatcher.send_finalize(job_id)
                self.store.outbox.rewatch(member, shard.now + 4 * self.store.grace_seconds)
                rewatched += 1
        # A worker that died had its steps' leases (above) and maybe messages it took from
        # the broker and had not claimed yet: gone with it, or kept by kombu for an hour.
        # Send again every unclaimed message of the types it served; a copy that arrives
        # second finds its step claimed and is dropped.
        lost = self.store.roster.take_lost(3 * self.settings.worker_heartbeat_seconds)
        for worker_id, info in lost.items():
            orphans = self.store.outbox.unclaimed(info.get("agents", []))
            log.warning(
                "worker %s stopped without a word; sending its types' %d unclaimed messages again",
                worker_id,
                len(orphans),
            )
            stranded += orphans
        stranded += self._after_a_restart()
        if stranded:
            # One copy each: several lost workers, or a restart too, may name the same one.
            stranded = list({message.raw: message for message in stranded}.values())
            self.dispatcher.send_steps(stranded)
            self.store.outbox.sent(stranded)
        return SweepReport(expired, len(stranded), rewatched, len(lost))

    def _after_a_restart(self) -> list[StepMessage]:
        """Every unclaimed message, if Redis restarted (or a cluster primary failed over),
        or a worker reconnected to the broker, since the last sweep: either may have lost
        messages on their way (a Redis its replies to workers, a broker what was published
        while it was away)."""
        restarted = self.store.outbox.restarted()
        reconnected = self.store.outbox.reconnected()  # asked too: told once, to one sweep
        if not (restarted or reconnected):
            return []
        orphans = self.store.outbox.unclaimed()
        why = "Redis restarted" if restarted else "a worker reconnected to the broker"
        log.warning("%s; sending its %d unclaimed messages again", why, len(orphans))
        return orphans

    def _expire(self, leases: list[tuple[str, str]]) -> int:
        """Requeue or fail the steps whose lease expired; how many were."""
        expired = 0
        for job_id, step_id in leases:
            # What the lost attempt was, for its span: its worker could not send one.
            held = self.store.step_records(job_id, [step_id]) if tracing.enabled() else {}
            followups = self.store.expire(job_id, step_id, self.settings.step_max_attempts)
            if followups.messages or followups.finalize:
                expired += 1
                log.warning("step %s/%s lost its worker; requeued or failed", job_id, step_id)
                if held.get(step_id):
                    self._lost_span(job_id, step_id, held[step_id])
            self.deliver(job_id, followups)
        return expired

    def _lost_span(self, job_id: str, step_id: str, held: dict[str, str]) -> None:
        """The span of an attempt whose worker died, from its start to now."""
        now = self.store.outbox.now()
        attempt = tracing.Attempt(
            job_id,
            step_id,
            int(held.get("attempts") or 0),
            held.get("agent", ""),
            held.get("worker", ""),
        )
        started = float(held.get("started_at") or 0) or now
        lease = float(held.get("lease_until") or 0)
        tracing.lost(self.store.trace(job_id), attempt, started, lease, now)

    def _time_up(self, job_id: str, step_id: str) -> None:
        """End a job's (or its step's, if ``step_id``) wait for approval: its time is up."""
        what = f"step {step_id!r}" if step_id else "the plan"
        why = f"expired: no one approved {what} within its approval timeout"
        step = step_id or None
        began = self.store.approvals.waiting_since(job_id, step) if tracing.enabled() else None
        done = self.store.approvals.reject(job_id, step, why, expired=True)
        if isinstance(done, Followups):
            log.warning("job %s: %s", job_id, why)
            if began is not None:
                now = self.store.outbox.now()
                parent = self.store.trace(job_id)
                tracing.waited(parent, job_id, step, began, now, "expired")
            self.deliver(job_id, done)
