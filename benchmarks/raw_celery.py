"""Plain Celery, for comparison: a no-op task, a one-call LLM task and a task that only
waits, with the settings celeriac's workers use.

Workers: ``raw_workers(...)`` (``python -m celery -A benchmarks.raw_celery worker ...``
with ``BENCH_RAW_REDIS_URL`` naming the Redis). JSON, acks late, prefetch 1, worker task
events on and no task-sent events (as celeriac's), results in the same Redis: what a user
would write to run tasks and fetch their results.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import openai
from celery import Celery

from benchmarks.deployment import BenchmarkError, repo_root
from orchestrator.embedded.procs import stop_process

QUEUE = "raw"
TASK = "raw.noop"
ASK = "raw.ask"
WAIT = "raw.wait"


@functools.cache
def sdk() -> openai.OpenAI:
    """One client for the worker, as the SDK's docs advise (OPENAI_BASE_URL, OPENAI_API_KEY)."""
    return openai.OpenAI(max_retries=0)


def make_app(redis_url: str) -> Celery:
    app = Celery("raw", broker=redis_url, backend=redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        worker_send_task_events=True,
        task_send_sent_event=False,  # as celeriac's
        task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @app.task(name=TASK)
    def noop(text: str) -> str:
        return text

    @app.task(name=WAIT)
    def wait(seconds: float) -> str:
        time.sleep(seconds)  # a stand-in for the call: Celery's own cost, without HTTP's
        return "ok"

    @app.task(name=ASK)
    def ask(question: str, model: str) -> str:
        completion = sdk().chat.completions.create(
            model=model, messages=[{"role": "user", "content": question}], temperature=0.0
        )
        return completion.choices[0].message.content or ""

    return app


@contextmanager
def raw_workers(redis_url: str, count: int, concurrency: int) -> Iterator[tuple[Celery, list[int]]]:
    """``count`` plain Celery worker processes (threads pool) on ``redis_url``: a client
    app and the workers' process ids."""
    env = {**os.environ, "BENCH_RAW_REDIS_URL": redis_url}
    argv = [sys.executable, "-m", "celery", "-A", "benchmarks.raw_celery", "worker"]
    argv += ["--pool", "threads", "--concurrency", str(concurrency), "--loglevel", "WARNING"]
    argv += ["--queues", QUEUE, "--without-gossip", "--without-mingle"]
    processes = [
        subprocess.Popen(
            [*argv, "--hostname", f"raw{i}@%h"],
            cwd=repo_root(),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(count)
    ]
    app = make_app(redis_url)
    try:
        deadline = time.monotonic() + 60
        while len(app.control.ping(timeout=0.5) or []) < count:
            if time.monotonic() > deadline:
                raise BenchmarkError(f"{count} plain Celery workers did not start within 60s")
        yield app, [process.pid for process in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            stop_process(process, timeout=10)
        app.close()


# For the worker command line; the benchmark makes its own with the deployment's URL.
app = make_app(os.environ.get("BENCH_RAW_REDIS_URL", "redis://127.0.0.1:1/0"))
