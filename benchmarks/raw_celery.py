"""Plain Celery, for comparison: one no-op task, with the settings celeriac's workers use.

Workers: ``python -m celery -A benchmarks.raw_celery worker ...`` with
``BENCH_RAW_REDIS_URL`` naming the Redis. JSON, acks late, prefetch 1, worker task events
on and no task-sent events (as celeriac's), results in the same Redis: what a user would
write to run tasks and fetch their results.
"""

from __future__ import annotations

import os

from celery import Celery

QUEUE = "raw"
TASK = "raw.noop"


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

    return app


# For the worker command line; the benchmark makes its own with the deployment's URL.
app = make_app(os.environ.get("BENCH_RAW_REDIS_URL", "redis://127.0.0.1:1/0"))
