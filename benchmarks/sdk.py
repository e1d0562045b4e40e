"""The openai SDK's own cost per model call: the way celeriac makes it, and the usual way.

Calls in flight together on one asyncio event loop (as a worker's model calls are), through
the SDK's async client on aiohttp, to the test server (tests/support/llm_server.py, answering at
once, in a process of its own so that its threads do not share this one's GIL):
``client.post("/chat/completions", body=..., cast_to=ChatCompletion)``, what
``OpenAIChatModel`` does, and ``client.chat.completions.create(...)`` with the same request.
The figure is the event loop thread's CPU per call (``time.thread_time``): in a worker, the
step threads wait for it. The two ways alternate.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from benchmarks.deployment import BenchmarkError, repo_root
from benchmarks.report import Column, Table, fixed, median

FULL = (1000, 5)  # calls in flight, runs
QUICK = (100, 1)
REQUEST: dict[str, Any] = {
    "model": "bench",
    "messages": [{"role": "user", "content": "go"}],
    "temperature": 0.0,
}
Call = Callable[[openai.AsyncOpenAI], Awaitable[Any]]
WAYS: dict[str, Call] = {
    "client.post(..., cast_to=ChatCompletion)": lambda client: client.post(
        "/chat/completions", body=REQUEST, cast_to=ChatCompletion, options={"timeout": 60.0}
    ),
    "client.chat.completions.create(...)": lambda client: client.chat.completions.create(
        **REQUEST, timeout=60.0
    ),
}


# Serves until its standard input closes.
SERVE = """
import sys
from tests.support.llm_server import LLMServer, Reply
with LLMServer(default=Reply("ok")) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


@contextmanager
def test_server() -> Iterator[str]:
    """The test server in a child process; its base URL."""
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE],
        cwd=repo_root(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        base_url = child.stdout.readline().strip()
        if not base_url:
            raise BenchmarkError("the test server did not start")
        yield base_url
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)


async def cpu_ms_per_call(client: openai.AsyncOpenAI, call: Call, calls: int) -> float:
    start = time.thread_time()
    replies = await asyncio.gather(*(call(client) for _ in range(calls)))
    spent = time.thread_time() - start
    if any(reply.choices[0].message.content != "ok" for reply in replies):
        raise BenchmarkError("the test server's answer did not come back")
    return spent * 1000 / calls


async def measure(base_url: str, calls: int, runs: int) -> dict[str, list[float]]:
    http = openai.DefaultAioHttpClient()
    client = openai.AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0, http_client=http)
    try:
        for call in WAYS.values():  # warm up: connections, imports
            await cpu_ms_per_call(client, call, calls)
        spent: dict[str, list[float]] = {way: [] for way in WAYS}
        for _ in range(runs):
            for way, call in WAYS.items():
                spent[way].append(await cpu_ms_per_call(client, call, calls))
        return spent
    finally:
        await client.close()


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    calls, runs = QUICK if quick else FULL
    runs = repeats or runs
    with test_server() as base_url:
        spent = asyncio.run(measure(base_url, calls, runs))
    table = Table(
        f"The openai SDK's CPU per chat completion, {calls} calls in flight on one event loop "
        "(median of runs)",
        [
            Column("way", "way", left=True),
            Column("calls", "calls at once"),
            Column("runs", "runs"),
            Column("cpu_ms", "event loop CPU ms/call", fixed(3), better="lower"),
            Column("cpu_range_ms", "min-max ms", left=True),
        ],
        key=("way", "calls"),
    )
    for way, values in spent.items():
        table.rows.append(
            {
                "way": way,
                "calls": calls,
                "runs": runs,
                "cpu_ms": median(values),
                "cpu_range_ms": f"{min(values):.3f}-{max(values):.3f}",
                "cpu_all_ms": values,
            }
        )
    table.notes += [
        "the SDK's async client on aiohttp (openai.DefaultAioHttpClient) to "
        "tests/support/llm_server.py "
        "in another process, answering at once; the same request both ways; the two alternate",
        "chat.completions.create walks the request through the SDK's TypedDict transform "
        "before it posts; client.post sends the JSON as it is and parses the answer the same way",
    ]
    return [table]
