"""A warm shutdown that begins as soon as SIGTERM (or SIGINT) arrives.

Celery's signal handler only sets a flag, which the worker's event loop (kombu's hub)
reads once its poll returns: up to a second later when no message comes (0.25-0.45 s
measured on an idle embedded worker). ``signal.set_wakeup_fd`` has the interpreter
write a byte to a socket the moment a signal lands; with the other end of that socket
on the event loop, the poll returns right after the handler has run, and the loop sees
the flag. Nothing else about the shutdown changes: running steps still finish.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from typing import Any


class ShutdownWaker:
    """``worker_ready.connect(waker.install)``; ``worker_process_init.connect(waker.forget)``."""

    def __init__(self) -> None:
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None

    def install(self, sender: Any = None, **_: Any) -> None:
        """On ``worker_ready`` (its sender is the consumer, which holds the hub)."""
        hub = getattr(sender, "hub", None)
        if hub is None or threading.current_thread() is not threading.main_thread():
            return  # no event loop to wake, or signals are not ours to route
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        self._reader, self._writer = reader, writer
        hub.add_reader(reader.fileno(), self._drain)
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)

    def forget(self, **_: Any) -> None:
        """In a forked pool process: its signals must not wake the parent's loop."""
        if self._writer is not None:
            signal.set_wakeup_fd(-1)

    def signalled(self) -> bool:
        """Whether a signal has landed that the event loop has not yet seen. Its handler
        runs in the main thread, which may first have to wait for the GIL, so another
        thread can see this before the handler's flag (``workers.chain``)."""
        if self._reader is None:
            return False
        try:
            return bool(self._reader.recv(1, socket.MSG_PEEK))
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:  # closed: the worker is going away
            return True

    def _drain(self, *_: Any) -> None:
        if self._reader is not None:
            with contextlib.suppress(OSError):
                self._reader.recv(4096)
