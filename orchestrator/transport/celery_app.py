"""The Celery app celeriac runs on, and the dispatcher that publishes its tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import Celery
from kombu.exceptions import ChannelError

from orchestrator import names, tracing
from orchestrator.store.records import StepMessage
from orchestrator.tracing import HEADER
from orchestrator.transport.dispatch import batches

AMQP_SCHEMES = ("amqp://", "amqps://")
KWARGS_SHOWN = 1024  # characters of a task's arguments in its message (Celery's own limit)


def make_app(broker_url: str) -> Celery:
    """A Celery app on ``broker_url`` (Redis, or RabbitMQ with ``amqp://``): JSON only,
    acks late, prefetch 1, task events on."""
    app = Celery(
        "celeriac",
        broker=broker_url,
        events="orchestrator.transport.task_events:Events",
        set_as_current=False,
    )
    app.conf.update(
        **(_rabbitmq() if broker_url.startswith(AMQP_SCHEMES) else _redis()),
        task_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        event_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_send_task_events=True,
        # No task-sent events: they carry the task's real name (celeriac.run_step), not the
        # agent's name it is shadowed as, and when one reaches Flower after the worker's
        # task-received event, Flower renames the step. Queue lengths show what waits.
        task_send_sent_event=False,
        task_default_queue=names.ORCHESTRATOR_QUEUE,
        task_create_missing_queues=True,
        broker_connection_retry_on_startup=True,
        # Steps keep running through a broker blip: their results go to the store,
        # which retries, and a redelivered message finds the step already done.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        enable_utc=True,
    )
    return app


def _redis() -> dict[str, Any]:
    return {
        "broker_transport": "orchestrator.transport.broker:Transport",
        # One Redis list per queue, not four (kombu's emulated priorities, which celeriac
        # does not use): a worker's BRPOP then watches a quarter of the keys.
        # A quarter-second BRPOP (kombu: 1 s): an idle worker notices a warm shutdown
        # that much sooner, which `celeriac run` waits for before it can exit.
        "broker_transport_options": {"priority_steps": [0], "polling_interval": 0.25},
    }


def _rabbitmq() -> dict[str, Any]:
    return {
        # Every queue Celery declares (agent.TYPE, orchestrator) is a durable quorum queue:
        # replicated over the RabbitMQ cluster's nodes, kept across restarts. Prefetch
        # stays per consumer (quorum queues have no global QoS; Celery sees to it).
        "task_default_queue_type": "quorum",
        "task_create_missing_queue_type": "quorum",
        # publish() returns once the broker has the message (publisher confirms), so the
        # outbox's "sent" is true; messages are persistent (Celery's default).
        "broker_transport_options": {"confirm_publish": True},
    }


class CeleryDispatcher:
    """Publishes celeriac's tasks by name, so publishers need no task code.

    Ready steps of one job and agent type share a message, up to ``steps_per_message``
    of them (``transport.dispatch.batches``): its first step is the task, the others
    ride in its ``more`` argument, and the worker runs them side by side."""

    def __init__(self, app: Celery, steps_per_message: int = 1) -> None:
        self.app = app
        self.steps_per_message = steps_per_message

    def send_steps(self, messages: Sequence[StepMessage], *, together: bool = True) -> None:
        # The job's trace context, if traced: in the headers (W3C traceparent), and its trace
        # id among the arguments, where Flower shows it.
        headers = tracing.headers()
        trace_id = tracing.trace_id(headers.get(HEADER))
        traced = {"trace_id": trace_id} if trace_id else {}
        most = self.steps_per_message if together else 1
        # One producer (one broker connection) for the whole batch.
        with self.app.producer_or_acquire() as producer:
            for first, *more in batches(messages, most):
                carried = {"more": [[m.step_id, m.dispatch] for m in more]} if more else {}
                kwargs = {
                    "job_id": first.job_id,
                    "step_id": first.step_id,
                    "dispatch": first.dispatch,
                    "agent": first.agent,
                    **traced,
                    **carried,
                }
                queue = names.agent_queue(first.agent)
                # shadow: Flower and worker logs show the step under its agent's name.
                self.app.send_task(
                    names.TASK_RUN_STEP,
                    kwargs=kwargs,
                    queue=queue,
                    shadow=first.agent,
                    producer=producer,
                    headers=headers,
                    declare=self._declare(producer, queue),
                    # What Flower shows of the arguments: their repr, which for ids and
                    # numbers is what Celery's saferepr gives at a tenth of its cost.
                    argsrepr="()",
                    kwargsrepr=repr(kwargs)[:KWARGS_SHOWN],
                )

    def _declare(self, producer: Any, queue: str) -> list[Any] | None:
        """What to declare before publishing to ``queue``: nothing where this connection
        declared it already (kombu's own cache, read before Celery copies and binds the
        queue to ask it), else the queue, as Celery does (None)."""
        declared = getattr(producer.connection, "declared_entities", None)
        if declared and hash(self.app.amqp.queues[queue]) in declared:
            return []
        return None

    def send_plan(self, job_id: str) -> None:
        self.app.send_task(
            names.TASK_PLAN,
            kwargs={"job_id": job_id},
            queue=names.ORCHESTRATOR_QUEUE,
            headers=tracing.headers(),
        )

    def send_finalize(self, job_id: str) -> None:
        self.app.send_task(
            names.TASK_FINALIZE, kwargs={"job_id": job_id}, queue=names.ORCHESTRATOR_QUEUE
        )


def queue_lengths(app: Celery, queues: Sequence[str]) -> list[int]:
    """Messages waiting in each of ``queues`` on the broker, Redis or RabbitMQ; a queue the
    broker does not know (never declared, or an empty Redis list) has none."""
    lengths = []
    with app.connection_for_read() as connection:
        for queue in queues:
            channel: Any = connection.channel()  # kombu's stubs know no queue_declare
            try:
                lengths.append(int(channel.queue_declare(queue, passive=True).message_count))
            except ChannelError:  # RabbitMQ closes the channel: the next queue gets a new one
                lengths.append(0)
            finally:
                channel.close()
    return lengths
