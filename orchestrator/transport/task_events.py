"""Celery's task events (what Flower shows), sent in batches.

A worker with an event loop buffers its task events and, by default, sends what it has
at the loop's next turn: with one message arriving per turn, that is one publish for
every event or two, a third of what a step costs the worker when a thousand run at
once. Here the buffer goes out at most every ``FLUSH_EVERY`` seconds (or when it holds
``BUFFER_LIMIT`` events): Flower is that much later, and a step costs the worker a
publish per many events. A thread of its own keeps the time; the publishing is done by
the worker's event loop, the one thread that may use the dispatcher's connection.

Why only there: Celery registers that connection with the loop so that the loop reads
the broker's heartbeats on it. On RabbitMQ a publish waits for its confirm on the same
connection, and when the loop read the confirm first, a publish from another thread
waited on its socket for ever, holding the dispatcher's lock; at its next worker
heartbeat the loop waited for that lock, and the worker took no more messages.

Selected in ``make_app`` (``Celery(events=...)``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery.app.events import Events as CeleryEvents
from celery.events.dispatcher import EventDispatcher

log = logging.getLogger(__name__)
FLUSH_EVERY = 0.05  # seconds
BUFFER_LIMIT = 200  # events in one message (Celery's default: 24)


class BatchingEventDispatcher(EventDispatcher):
    """Celery's dispatcher whose buffered events a flusher thread sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._buffered = threading.Event()
        self._flusher: threading.Thread | None = None
        self._stopped = False
        # Only a worker with an event loop buffers (and passes this callback, its
        # consumer's); it makes the dispatcher in the loop's thread. The loop is taken from
        # that consumer, not kombu's current loop, which kombu forgets when a lost
        # connection resets it (Celery does not set it again when it reconnects).
        on_send_buffered = kwargs.pop("on_send_buffered", None)
        self._batching = on_send_buffered is not None
        self._loop: Any = getattr(getattr(on_send_buffered, "__self__", None), "hub", None)
        self._loop_thread = threading.get_ident()
        if self._batching:
            kwargs.update(on_send_buffered=self._buffered.set, buffer_limit=BUFFER_LIMIT)
        super().__init__(*args, **kwargs)

    def enable(self) -> None:
        super().enable()
        self._stopped = False
        if self._batching and (self._flusher is None or not self._flusher.is_alive()):
            self._flusher = threading.Thread(
                target=self._flush_now_and_then, name="celeriac-task-events", daemon=True
            )
            self._flusher.start()

    def flush(self, errors: bool = True, groups: bool = True) -> None:
        """Send what is buffered: at once in the event loop's thread (or where there is no
        loop: not in a worker's consumer), else at the loop's next turn. Celery flushes
        from the thread that fills the buffer to its limit, a task's thread among them."""
        loop = self._loop if self._batching else None
        if loop is None or threading.get_ident() == self._loop_thread:
            super().flush(errors=errors, groups=groups)
        else:
            loop.call_soon(self._flush_in_loop, errors, groups)

    def _flush_in_loop(self, errors: bool, groups: bool) -> None:
        try:  # what the loop runs must not raise: it would restart the worker's consumer
            super().flush(errors=errors, groups=groups)
        except Exception:
            log.warning("could not send task events; will try again", exc_info=True)

    def close(self) -> None:
        # What is still buffered goes out first: a worker stopping after its last
        # steps finished should not leave them "started" in Flower.
        try:
            self.flush()
        except Exception:
            log.debug("could not send the last task events", exc_info=True)
        super().close()
        self._stopped = True
        self._buffered.set()  # let the flusher see it

    def _flush_now_and_then(self) -> None:
        while True:
            self._buffered.wait()
            if self._stopped:
                return
            time.sleep(FLUSH_EVERY)  # the batching: what is sent meanwhile joins this flush
            self._buffered.clear()
            try:
                self.flush()
            except Exception:
                log.warning("could not send task events; will try again", exc_info=True)


class Events(CeleryEvents):
    dispatcher_cls = "orchestrator.transport.task_events:BatchingEventDispatcher"
