"""A step's output as it is written (``StepContext.write``), on its job's event stream.

Pieces that come closer together than ``INTERVAL`` go out together: a model's stream
writes a few tokens at a time, and each write is a Redis command on the worker's shared
model-call loop. The first piece goes out at once, the last when the step ends.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import redis

from orchestrator import names

INTERVAL = 0.025  # seconds: at most 40 pieces a second a step


class DeltaWriter:
    def __init__(self, client: redis.Redis, job_id: str, step_id: str, attempt: int) -> None:
        self.redis = client
        self.key = names.events_key(job_id)
        self.step_id = step_id
        self.attempt = attempt
        self._pending: list[str] = []
        self._last = 0.0
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            self._pending.append(text)
            if time.monotonic() - self._last >= INTERVAL:
                self._flush()

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        text, self._pending = "".join(self._pending), []
        self._last = time.monotonic()
        fields: dict[Any, Any] = {  # as common.lua's emit writes an event
            "type": names.DELTA_EVENT,
            "step": self.step_id,
            "ts": repr(time.time()),
            "data": json.dumps({"text": text, "attempt": self.attempt}),
        }
        self.redis.xadd(self.key, fields, maxlen=names.EVENTS_MAXLEN, approximate=True)
