"""One worker process runs hundreds of I/O-bound steps at once."""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.client import Client
from orchestrator.settings import Settings


def test_one_worker_process_runs_220_waiting_steps_at_once(
    isolated: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    parties = 220
    live = isolated(workers=1, worker_args=["--concurrency", "256"])
    barrier = unique("wide")
    plan = {
        "steps": [
            # Each step returns only once all 220 are inside the barrier together.
            {
                "id": f"s{i}",
                "agent": "barrier",
                "input": {"name": barrier, "parties": parties, "timeout": 60},
            }
            for i in range(parties)
        ]
    }
    with Client(live) as client:
        result = client.submit(plan=plan).wait(timeout=120)
    assert result.status == "succeeded", result.error
    workers = {step.worker for step in result.steps.values()}
    assert len(workers) == 1
    assert all(step.attempts == 1 for step in result.steps.values())
