"""A worker in warm shutdown gives back what reaches it (the integration test of a warm
shutdown shows it on both brokers)."""

from __future__ import annotations

from typing import Any

import pytest
from celery.exceptions import Reject
from celery.worker import state as worker_state

from workers.tasks import refuse_when_stopping


@pytest.mark.parametrize(
    ("should_stop", "should_terminate", "refused"),
    [(None, None, False), (0, None, True), (1, None, True), (None, 0, True), (False, None, False)],
)
def test_a_stopping_worker_requeues_what_reaches_it(
    monkeypatch: pytest.MonkeyPatch,
    should_stop: int | bool | None,
    should_terminate: int | None,
    refused: bool,
) -> None:
    monkeypatch.setattr(worker_state, "should_stop", should_stop)
    monkeypatch.setattr(worker_state, "should_terminate", should_terminate)
    if not refused:
        refuse_when_stopping()
        return
    with pytest.raises(Reject) as caught:
        refuse_when_stopping()
    rejected: Any = caught.value  # celery-types does not know Reject's attributes
    assert rejected.requeue and "shutting down" in str(rejected.reason)
