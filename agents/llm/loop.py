"""One asyncio event loop per process, in a daemon thread, for callers that are not async.

Worker threads block on model calls; the calls themselves run on this loop, so a
thousand in flight are a thousand sockets for one loop to watch, not a thousand threads
each taking a turn at one connection pool (httpx's pool looks at every connection on
every request: a quadratic cost at that concurrency).

>>> answer = shared_loop().run(some_coroutine(), timeout=5)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopTimeout(TimeoutError):
    """The coroutine did not finish in the time given; it has been cancelled."""


class BackgroundLoop:
    """An event loop running in its own daemon thread, started on first use.

    A forked child (Celery's prefork pool) gets a loop of its own on its first call:
    a loop thread does not survive ``fork``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self._loop = self._thread = None

    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid():
            return loop
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="celeriac-event-loop", daemon=True
                )
                self._thread.start()
            return self._loop

    def in_loop(self) -> bool:
        """Whether this is the loop's own thread (where ``run`` would wait for itself)."""
        return self._thread is threading.current_thread()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """``coroutine``'s result, run on the loop; this thread waits for it.

        Raises what the coroutine raised, or ``LoopTimeout`` after ``timeout`` seconds.
        If the wait ends early (the thread is interrupted), the coroutine is cancelled.
        """
        if self.in_loop():
            coroutine.close()
            raise RuntimeError("BackgroundLoop.run called on the loop's own thread")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            if future.done():  # just finished, or raised a TimeoutError of its own
                return future.result()
            future.cancel()
            raise LoopTimeout(f"no result within {timeout:g} s") from None
        except BaseException:
            future.cancel()
            raise


_SHARED = BackgroundLoop()


def shared_loop() -> BackgroundLoop:
    """This process's loop, shared by every model client in it."""
    return _SHARED
