"""``celeriac serve`` against the SDK, in one run: what the HTTP gateway adds.

1. Submit-to-result: the same one-step jobs, one at a time, through the SDK
   (``submit`` then ``wait``) and over HTTP to one gateway process (``POST /v1/jobs``,
   then its event stream until ``job_finished``), alternating.
2. Streams: jobs whose generation step streams its answer from the scripted model (the
   test server in a process of its own, a word a chunk), all at once; each is followed
   through the SDK (``job.events()``) or by its own SSE client on one gateway process.
   Time to first token is from submit to the first ``step_delta`` a client holds (one job
   at a time also with the POST answered by the stream itself). Also:
   events relayed per second, and the gateway's CPU per job (from /proc).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from benchmarks.deployment import (
    AGENT_MODULES,
    JOB_TIMEOUT,
    BenchmarkError,
    Deployment,
    check,
    repo_root,
)
from benchmarks.report import Column, Table, fixed, median, percentile
from orchestrator.client import Client
from orchestrator.embedded.deployment import settings_env
from orchestrator.embedded.procs import stop_process
from orchestrator.embedded.redis_server import free_port
from tests.support.helpers import http_get, wait_for

FULL = {"jobs": 100, "streams": 200, "runs": 3}
QUICK = {"jobs": 20, "streams": 50, "runs": 1}
EVENT_STREAM = {"Accept": "text/event-stream"}
ECHO = {"steps": [{"id": "a", "agent": "echo", "input": {"text": "hi"}}]}
ANSWER = (
    "Open Settings and choose Security. Turn on two-factor authentication, scan the code "
    "with your authenticator app, and type the six digits it shows."
)
PASSAGE = {"id": "p1", "title": "Two-factor", "text": "Turn it on under Settings, Security."}
GENERATE = {
    "steps": [
        {
            "id": "answer",
            "agent": "generation",
            "input": {"instruction": "How do I turn on two-factor?", "context": [PASSAGE]},
        }
    ]
}
PIECE_DELAY = 0.01
# The scripted model in a child process: streams ANSWER's JSON a word a chunk.
SERVE_MODEL = f"""
import json, sys
from tests.support.llm_server import LLMServer, Reply
drafted = {{"answered": True, "text": {ANSWER!r}, "short_answer": "", "citations": ["p1"]}}
with LLMServer(default=Reply(json.dumps(drafted), piece_delay={PIECE_DELAY})) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


@contextmanager
def scripted_model() -> Iterator[None]:
    """The test server in a child process, named in this process's environment (which
    the deployment's workers inherit) while it runs."""
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE_MODEL],
        cwd=repo_root(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    saved = {name: os.environ.get(name) for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
    try:
        assert child.stdout is not None
        base_url = child.stdout.readline().strip()
        if not base_url:
            raise BenchmarkError("the test server did not start")
        os.environ.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY="test")
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.update({name: value})
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)


@contextmanager
def gateway(client: Client) -> Iterator[tuple[str, int]]:
    """One ``celeriac serve`` process over the deployment; its address and pid."""
    port = free_port()
    env = {**os.environ, **settings_env(client.settings)}
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "serve", "--port", str(port)],
        cwd=repo_root(),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: http_get(f"{url}/healthz")[0] == 200, timeout=60, what="the gateway")
        yield url, process.pid
    except Exception:
        log.seek(0)
        print(log.read().decode(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        stop_process(process, timeout=15)
        log.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- 1. submit to result -------------------------------------------------------------------


def sdk_round_trip(client: Client) -> float:
    start = time.perf_counter()
    check(client.submit(ECHO).wait(timeout=JOB_TIMEOUT))
    return time.perf_counter() - start


def http_round_trip(http: httpx.Client) -> float:
    start = time.perf_counter()
    job_id = http.post("/v1/jobs", json={"plan": ECHO}).json()["job_id"]
    with http.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        for line in response.iter_lines():
            if line.startswith("data:") and '"type": "job_finished"' in line:
                result = json.loads(line[5:])["result"]
                if result["status"] != "succeeded":
                    raise BenchmarkError(f"job {job_id} ended {result['status']}")
                break
    return time.perf_counter() - start


def round_trips(jobs: int, runs: int) -> Table:
    sdk: list[float] = []
    over_http: list[float] = []
    with (
        Deployment(workers=1, service_requests_per_minute=100_000) as live,
        gateway(live.sdk) as (url, _),
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        for _ in range(5):  # warm up: connections, imports, the worker's agents
            sdk_round_trip(live.sdk), http_round_trip(http)
        for _ in range(runs * jobs):
            sdk.append(sdk_round_trip(live.sdk))
            over_http.append(http_round_trip(http))
    table = Table(
        f"Submit to result of a one-step job, one at a time ({runs * jobs} each, alternating)",
        [
            Column("way", "way", left=True),
            Column("p50_ms", "p50 ms", fixed(2), better="lower"),
            Column("p99_ms", "p99 ms", fixed(2)),
            Column("ratio", "p50 / SDK's", fixed(2), better="lower"),
        ],
        key=("way",),
    )
    base = median(sdk)
    for way, walls in (
        ("SDK: submit + wait", sdk),
        ("HTTP: POST + SSE to job_finished", over_http),
    ):
        table.rows.append(
            {
                "way": way,
                "p50_ms": median(walls) * 1000,
                "p99_ms": percentile(walls, 99) * 1000,
                "ratio": median(walls) / base,
            }
        )
    table.notes.append("one gateway process (`celeriac serve`) and one worker on the same Redis")
    return table


# -- 2. streams ----------------------------------------------------------------------------


def sdk_streams(client: Client, count: int) -> tuple[list[float], int, float]:
    """(time to first token of each job, events seen, wall seconds), followed by threads."""
    firsts: list[float] = []
    seen = [0]
    lock = threading.Lock()

    def follow() -> None:
        start = time.perf_counter()
        handle = client.submit(GENERATE)
        first = None
        for event in handle.events(timeout=JOB_TIMEOUT):
            with lock:
                seen[0] += 1
            if first is None and event.type == "step_delta":
                first = time.perf_counter() - start
        with lock:
            firsts.append(first if first is not None else float("nan"))

    started = time.perf_counter()
    threads = [threading.Thread(target=follow) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return firsts, seen[0], time.perf_counter() - started


async def http_follow(http: aiohttp.ClientSession, one_request: bool = False) -> tuple[float, int]:
    """Submit a job over HTTP and follow its stream: (time to first token, events); with
    ``one_request``, the POST's own answer is the stream (``Accept: text/event-stream``)."""
    start = time.perf_counter()
    if one_request:
        opened = http.post("/v1/jobs", json={"plan": GENERATE}, headers=EVENT_STREAM)
    else:
        async with http.post("/v1/jobs", json={"plan": GENERATE}) as submitted:
            job_id = (await submitted.json())["job_id"]
        opened = http.get(f"/v1/jobs/{job_id}/events")
    first, events = float("nan"), 0
    async with opened as response:
        async for raw in response.content:
            if not raw.startswith(b"event:"):
                continue
            events += 1
            kind = raw[6:].strip()
            if kind == b"step_delta" and first != first:  # still nan
                first = time.perf_counter() - start
            if kind == b"job_finished":
                break
    return first, events


def http_client(url: str, count: int) -> aiohttp.ClientSession:
    # aiohttp: httpx's pool costs more CPU per read the more connections it holds, and
    # the figure is the gateway's, not the client's.
    return aiohttp.ClientSession(
        base_url=url,
        connector=aiohttp.TCPConnector(limit=count + 10),
        timeout=aiohttp.ClientTimeout(total=JOB_TIMEOUT),
    )


async def http_streams(url: str, count: int) -> tuple[list[float], int, float]:
    async with http_client(url, count) as http:
        started = time.perf_counter()
        done = await asyncio.gather(*(http_follow(http) for _ in range(count)))
        wall = time.perf_counter() - started
    return [first for first, _ in done], sum(events for _, events in done), wall


def sdk_first_token(client: Client) -> float:
    start = time.perf_counter()
    for event in client.submit(GENERATE).events(timeout=JOB_TIMEOUT):
        if event.type == "step_delta":
            return time.perf_counter() - start
    raise BenchmarkError("a job streamed no token")


async def one_at_a_time(
    url: str, client: Client, jobs: int
) -> tuple[list[float], list[float], list[float]]:
    """First tokens of jobs one at a time, in turns: through the SDK, over HTTP in two
    requests (POST, then GET the stream) and in one; the HTTP client keeps its connection,
    as a real one does."""
    sdk, over_http, one_post = [], [], []
    async with http_client(url, 1) as http:
        for _ in range(jobs):
            sdk.append(sdk_first_token(client))
            over_http.append((await http_follow(http))[0])
            one_post.append((await http_follow(http, one_request=True))[0])
    return sdk, over_http, one_post


def first_tokens(url: str, client: Client, jobs: int) -> Table:
    """Time to first token of one job at a time, through the SDK and over HTTP."""
    sdk, over_http, one_post = asyncio.run(one_at_a_time(url, client, jobs))
    table = Table(
        f"Time to first token of one job at a time ({jobs} each, alternating)",
        [
            Column("way", "way", left=True),
            Column("p50_ms", "p50 ms", fixed(1), better="lower"),
            Column("p99_ms", "p99 ms", fixed(1)),
        ],
        key=("way",),
    )
    ways = (
        ("SDK: job.events()", sdk),
        ("HTTP: POST, then GET the SSE", over_http),
        ("HTTP: one POST answered with the SSE", one_post),
    )
    for way, walls in ways:
        table.rows.append(
            {"way": way, "p50_ms": median(walls) * 1000, "p99_ms": percentile(walls, 99) * 1000}
        )
    two, one = ((median(walls) - median(sdk)) * 1000 for walls in (over_http, one_post))
    table.notes.append(
        f"the gateway adds {one:.1f} ms to the first token at p50 with one request, "
        f"{two:.1f} ms with two (target: 5)"
    )
    return table


def streams(count: int, runs: int, jobs: int) -> list[Table]:
    rows: dict[str, list[dict[str, float]]] = {"SDK: job.events()": [], "HTTP: SSE": []}
    settings: dict[str, Any] = {
        "agent_modules": AGENT_MODULES,
        "llm_backend": "openai",
        "llm_model": "test-model",
        "llm_cache": False,
        "scoring": False,  # the figure is the stream's, not the scorers'
        "service_concurrent_jobs": count + 10,  # the open server's one tenant has them all
        "service_requests_per_minute": 100_000,
    }
    with (
        scripted_model(),
        Deployment(workers=1, worker_args=["--concurrency", str(count + 16)], **settings) as live,
        gateway(live.sdk) as (url, pid),
    ):
        sdk_streams(live.sdk, 10)  # warm up
        asyncio.run(http_streams(url, 10))
        one_at_a_time = first_tokens(url, live.sdk, jobs)
        for _ in range(runs):
            firsts, events, wall = sdk_streams(live.sdk, count)
            rows["SDK: job.events()"].append(_figures(firsts, events, wall, count))
            cpu = cpu_seconds(pid)
            firsts, events, wall = asyncio.run(http_streams(url, count))
            figures = _figures(firsts, events, wall, count)
            figures["cpu_ms_per_job"] = (cpu_seconds(pid) - cpu) * 1000 / count
            rows["HTTP: SSE"].append(figures)
    table = Table(
        f"{count} jobs at once, each streaming its answer from the scripted model "
        f"(a word a chunk, {PIECE_DELAY * 1000:.0f} ms apart), followed to the end "
        f"(median of {runs} runs)",
        [
            Column("way", "way", left=True),
            Column("ttft_p50_ms", "first token p50 ms", fixed(1), better="lower"),
            Column("ttft_p99_ms", "p99 ms", fixed(1)),
            Column("p99_over_p50", "p99 / p50", fixed(2)),
            Column("events_per_s", "events/s", fixed(0), better="higher"),
            Column("cpu_ms_per_job", "gateway CPU ms/job", fixed(2)),
        ],
        key=("way",),
    )
    for way, measured in rows.items():
        row: dict[str, Any] = {"way": way}
        for name in ("ttft_p50_ms", "ttft_p99_ms", "p99_over_p50", "events_per_s"):
            row[name] = median([m[name] for m in measured])
        if way.startswith("HTTP"):
            row["cpu_ms_per_job"] = median([m["cpu_ms_per_job"] for m in measured])
        table.rows.append(row)
    table.notes += [
        "target: p99 / p50 at most 1.5 over HTTP",
        "one gateway process; one worker process (threads) runs every generation step; the "
        "SDK's followers are threads of this process, the HTTP ones one asyncio loop here; "
        "every job is submitted at once, so the first tokens wait for the submissions",
    ]
    return [one_at_a_time, table]


def _figures(firsts: list[float], events: int, wall: float, count: int) -> dict[str, float]:
    valid = [first for first in firsts if first == first]
    if len(valid) != count:
        raise BenchmarkError(f"{count - len(valid)} of {count} jobs streamed no token")
    p50, p99 = median(valid), percentile(valid, 99)
    return {
        "ttft_p50_ms": p50 * 1000,
        "ttft_p99_ms": p99 * 1000,
        "p99_over_p50": p99 / p50,
        "events_per_s": events / wall,
    }


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    sizes = QUICK if quick else FULL
    runs = repeats or sizes["runs"]
    return [round_trips(sizes["jobs"], runs), *streams(sizes["streams"], runs, sizes["jobs"])]
