"""The shared event loop that model calls from worker threads run on."""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from agents.llm.loop import BackgroundLoop, LoopTimeout


async def double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


async def fail() -> None:
    raise ValueError("no")


def test_run_returns_the_result_and_raises_the_error() -> None:
    loop = BackgroundLoop()
    assert loop.run(double(21)) == 42
    with pytest.raises(ValueError, match="no"):
        loop.run(fail())


def test_calls_from_many_threads_share_one_loop_thread() -> None:
    loop = BackgroundLoop()
    seen: set[int] = set()

    async def where() -> int:
        seen.add(threading.get_ident())
        await asyncio.sleep(0.01)
        return 1

    with ThreadPoolExecutor(50) as pool:
        assert sum(pool.map(lambda _: loop.run(where()), range(200))) == 200
    assert len(seen) == 1


def test_a_timeout_cancels_the_coroutine() -> None:
    loop = BackgroundLoop()
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(LoopTimeout, match=r"no result within 0\.05 s"):
        loop.run(forever(), timeout=0.05)
    assert cancelled.wait(5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_gets_a_loop_of_its_own() -> None:
    loop = BackgroundLoop()
    assert loop.run(double(1)) == 2  # the parent's loop thread is running
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's loop thread did not survive the fork
        try:
            os.write(writer, b"ok" if loop.run(double(2), timeout=5) == 4 else b"bad")
        finally:
            os._exit(0)
    os.close(writer)
    _, status = os.waitpid(pid, 0)
    assert os.read(reader, 10) == b"ok" and os.waitstatus_to_exitcode(status) == 0
    assert loop.run(double(3)) == 6


def test_run_on_the_loops_own_thread_is_refused() -> None:
    loop = BackgroundLoop()

    async def nested() -> None:
        loop.run(double(1))

    with pytest.raises(RuntimeError, match="loop's own thread"):
        loop.run(nested())
