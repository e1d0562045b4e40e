"""``GET /v1/jobs/{id}/events``: the job's event stream as Server-Sent Events.

Each event's SSE id is its Redis stream id, so a client that reconnects with
``Last-Event-ID`` (to any instance) gets every event after it, once. The events are the
plan (``job_planned``), each step's state changes, ``step_delta`` (a piece of the answer
as it is written) and, last, ``job_finished`` carrying the whole ``result``. A client that
goes away takes nothing with it: its blocked read is cancelled with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, cast

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from orchestrator import names
from orchestrator.models import TERMINAL_JOB
from orchestrator.service import wire
from orchestrator.service.deps import Service, ServiceDep, TenantDep
from orchestrator.service.errors import ServiceError, not_found

router = APIRouter(prefix="/v1", tags=["jobs"])
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
# How long a read waits for the next event before a comment keeps the connection alive
# (and a client that left is noticed).
KEEPALIVE_MS = 10_000
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event_record(job_id: str, entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """A stream entry (as common.lua's emit writes it) as the JSON an SSE event carries."""
    return {
        "id": entry_id,
        "job_id": job_id,
        "type": fields.get("type", ""),
        "step_id": fields.get("step") or None,
        "at": datetime.fromtimestamp(float(fields.get("ts") or 0), tz=UTC).isoformat(),
        "data": json.loads(fields.get("data") or "{}"),
    }


def sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def result_json(service: Service, job_id: str) -> Any:
    result = await anyio.to_thread.run_sync(lambda: service.client.get(job_id).result())
    return json.loads(result.model_dump_json())


Batch = list[tuple[str, dict[str, Any]]]


async def job_batches(service: Service, job_id: str, after: str) -> AsyncIterator[Batch]:
    """The events after ``after`` as they come, a batch (stream id, event) at a time,
    until ``job_finished`` (whose event then has the ``result``); an empty batch when
    nothing came for a while. Ends too if the job ended without one, or expired."""
    key = names.events_key(job_id)
    while True:
        reply: Any = await service.streams.xread({key: after}, block=KEEPALIVE_MS, count=500)
        if not reply:
            status = await service.streams.hget(names.job_key(job_id), "status")
            if status is None or (status in TERMINAL_JOB and not await _after(service, key, after)):
                return
            yield []  # nothing new: the caller keeps the connection alive
            continue
        batch: Batch = []
        for entry_id, fields in reply[0][1]:
            after = entry_id
            record = event_record(job_id, entry_id, fields)
            batch.append((entry_id, record))
            if record["type"] == "job_finished":
                record["result"] = await result_json(service, job_id)
                yield batch
                return
        yield batch


async def job_events(
    service: Service, job_id: str, after: str
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(stream id, event) after ``after``, as ``job_batches`` gives them."""
    async for batch in job_batches(service, job_id, after):
        for entry in batch:
            yield entry


async def _after(service: Service, key: str, after: str) -> bool:
    """Whether the stream has entries after ``after``."""
    return bool(await service.streams.xrange(key, min=f"({after}", count=1))


async def finished_before(service: Service, job_id: str, after: str) -> bool:
    """Whether the client has seen the job's end already (resuming after it)."""
    status = await service.streams.hget(names.job_key(job_id), "status")
    if status not in TERMINAL_JOB:
        return False
    return not await _after(service, names.events_key(job_id), after)


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 204: {"description": "Seen all."}},
)
async def events(
    job_id: str,
    request: Request,
    service: ServiceDep,
    tenant: TenantDep,
    last_event_id: Annotated[str | None, Header(description="Resume after this event.")] = None,
    after: Annotated[str | None, Query(description="Resume after this event id.")] = None,
) -> Response:
    """The job's events as Server-Sent Events, from the start or after ``Last-Event-ID``;
    204 once there is nothing more to see (a client that has had ``job_finished``)."""
    if (
        len(job_id) > 64
        or await service.streams.zscore(wire.tenant_jobs(tenant.id), job_id) is None
    ):
        raise not_found(f"job {job_id!r}")  # as jobs.owned: another key's is no job
    start = last_event_id or after or "0"
    if start != "0" and not _STREAM_ID.fullmatch(start):
        raise ServiceError(
            400, f"Last-Event-ID must be an event's id such as 1733230000000-0, not {start!r}"
        )
    if start != "0" and await finished_before(service, job_id, start):
        return Response(status_code=204)
    return stream_response(service, job_id, start)


def stream_response(
    service: Service, job_id: str, start: str = "0", first: bytes = b"", **headers: str
) -> StreamingResponse:
    """The job's events after ``start`` as an SSE response, ``first`` before them."""
    return StreamingResponse(
        _relay(service, job_id, start, first),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **headers},
    )


async def _relay(service: Service, job_id: str, start: str, first: bytes) -> AsyncIterator[bytes]:
    yield b"retry: 1000\n\n" + first
    async for batch in job_batches(service, job_id, start):
        if not batch:
            yield b": keep-alive\n\n"
            continue
        # What one read brought goes out in one write.
        yield b"".join(
            sse(cast(str, record["type"]), record, entry_id) for entry_id, record in batch
        )
