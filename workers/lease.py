"""Keeping the leases of running steps alive, from one thread per process."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict

from orchestrator.store.jobs import Store

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews the lease of every step this process runs, every third of a lease.

    If this process dies, renewals stop and the sweeper requeues its steps
    within about two lease periods. The keeper also learns of cancelled jobs,
    which ``StepContext.cancelled`` reports.
    """

    def __init__(self, store: Store, lease_seconds: float) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self._held: dict[tuple[str, str], int] = {}
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._pid = 0

    def hold(self, job_id: str, step_id: str, dispatch: int) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use in this (possibly forked) process
                self._pid = os.getpid()
                self._held.clear()
                threading.Thread(target=self._loop, name="celeriac-leases", daemon=True).start()
            self._held[(job_id, step_id)] = dispatch

    def release(self, job_id: str, step_id: str) -> None:
        with self._lock:
            self._held.pop((job_id, step_id), None)

    def is_cancelled(self, job_id: str) -> bool:
        return job_id in self._cancelled

    def _loop(self) -> None:
        while True:
            time.sleep(self.lease_seconds / 3)
            with self._lock:
                by_job: dict[str, list[tuple[str, int]]] = defaultdict(list)
                for (job_id, step_id), dispatch in self._held.items():
                    by_job[job_id].append((step_id, dispatch))
            for job_id, held in by_job.items():
                try:
                    renewal = self.store.renew(job_id, held, self.lease_seconds)
                except Exception:
                    log.exception("renewing leases of job %s failed; will try again", job_id)
                    continue
                if renewal.status == "cancelled":
                    self._cancelled.add(job_id)
                for step_id in renewal.lost:
                    log.warning("step %s/%s is no longer leased to this worker", job_id, step_id)
