"""``/v1/jobs``: submit, list, get and cancel a key's jobs; agent cards and collections.

A job accepted here is in Redis before its 202 goes out: a gateway that dies right after
answering loses nothing.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.collections import DEMO, collection_names, require_collection
from agents.errors import CollectionError
from orchestrator import names
from orchestrator.models import Approval, Budget, Goal, JobResult, JobStatus, from_timestamp
from orchestrator.service.deps import Service, ServiceDep, TenantDep
from orchestrator.service.errors import ServiceError, not_found
from orchestrator.service.streams import sse, stream_response
from orchestrator.service.tenants import Tenant

router = APIRouter(prefix="/v1", tags=["jobs"])


class JobRequest(BaseModel):
    """A goal in plain language, or a plan; exactly one of them."""

    model_config = ConfigDict(extra="forbid")

    goal: str | None = Field(default=None, min_length=1, description="What you want done.")
    plan: dict[str, Any] | None = Field(default=None, description="A plan (see the README).")
    collection: str | None = Field(
        default=None, description="The collection a goal is about (default: the server's)."
    )
    language: str | None = Field(
        default=None,
        min_length=2,
        max_length=40,
        description="The language of the answer to a goal, e.g. Spanish or es.",
    )
    budget: Budget | None = None
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    fallback_language: bool | None = Field(
        default=None, description="Answer in English, with a warning, if the language cannot be."
    )
    approval: Approval | None = Field(
        default=None,
        description="plan: once planned, the job waits for POST .../approve or .../reject "
        "(default: the server's CELERIAC_APPROVAL).",
    )
    approval_timeout: float | None = Field(
        default=None, gt=0, description="Seconds a wait for approval lasts before it expires."
    )

    @model_validator(mode="after")
    def _one_of(self) -> JobRequest:
        if (self.goal is None) == (self.plan is None):
            raise ValueError("give a goal or a plan (exactly one of them)")
        if self.plan is not None:
            for name in ("collection", "language", "fallback_language"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} goes with a goal: a plan names its own")
        return self

    def goal_text(self) -> str:
        assert self.goal is not None
        if self.language is None:
            return self.goal
        return f"{self.goal.rstrip()} Answer in {self.language}."


class Links(BaseModel):
    self: str
    events: str


class Accepted(BaseModel):
    job_id: str
    status: JobStatus
    links: Links


class JobSummary(BaseModel):
    job_id: str
    status: JobStatus
    goal: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None


class JobPage(BaseModel):
    jobs: list[JobSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: none.")


class Cancelled(BaseModel):
    job_id: str
    status: JobStatus


def accepted(job_id: str, status: str) -> Accepted:
    return Accepted.model_validate(
        {
            "job_id": job_id,
            "status": status,
            "links": {"self": f"/v1/jobs/{job_id}", "events": f"/v1/jobs/{job_id}/events"},
        }
    )


def initial_status(body: JobRequest, service: Service) -> str:
    """A goal waits for its plan; a plan runs from the start, or waits for its approval."""
    if body.goal is not None:
        return "pending"
    asked = body.approval or service.settings.approval
    return "awaiting_approval" if asked == "plan" else "running"


def check_collection(service: Service, tenant: Tenant, name: str) -> None:
    """400 naming the collection unless it exists here and the key may search it."""
    if not tenant.may_search(name):
        raise ServiceError(
            400,
            f"unknown collection {name!r}: this key searches {', '.join(tenant.collections)}",
            field="collection",
        )
    try:
        require_collection(service.settings.data_dir, name)
    except CollectionError as exc:
        raise ServiceError(400, f"unknown collection {name!r}: {exc}", field="collection") from None


def default_collection(service: Service, tenant: Tenant) -> str:
    if tenant.collections and service.settings.default_collection not in tenant.collections:
        return tenant.collections[0]
    return service.settings.default_collection


def plan_collections(plan: dict[str, Any]) -> set[str]:
    """The collections a plan's steps name (a malformed plan is the SDK's to refuse)."""
    steps = plan.get("steps")
    found = set()
    for step in steps if isinstance(steps, list) else []:
        given = step.get("input", {}) if isinstance(step, dict) else {}
        if isinstance(given, dict) and isinstance(given.get("collection"), str):
            found.add(given["collection"])
    return found


def submit_for(service: Service, tenant: Tenant, body: JobRequest) -> str:
    """Submit as the tenant, within its limits; the job id."""
    collection = None
    if body.goal is not None:
        collection = body.collection or default_collection(service, tenant)
        check_collection(service, tenant, collection)
    else:
        for name in sorted(plan_collections(body.plan or {})):
            check_collection(service, tenant, name)
    placeholder = uuid.uuid4().hex
    service.tenants.reserve(tenant, placeholder)
    job_id = None
    try:
        handle = service.client.submit(
            body.plan,
            goal=body.goal_text() if body.goal is not None else None,
            collection=collection,
            budget=body.budget,
            threshold=body.threshold,
            fallback_language=body.fallback_language,
            approval=body.approval,
            approval_timeout=body.approval_timeout,
        )
        job_id = handle.id
    finally:
        service.tenants.release(tenant, placeholder, job_id)
    return job_id


STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {}},
        "description": "With `Accept: text/event-stream`: `job_accepted` (the job id and "
        "status), then the job's events as GET /v1/jobs/{id}/events gives them.",
    }
}


@router.post("/jobs", status_code=202, response_model=Accepted, responses=STREAMED)
def submit(
    body: JobRequest,
    service: ServiceDep,
    tenant: TenantDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description="The same key twice gives the same job, once."),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Accepted | Response:
    """Submit a goal or a plan; the job is in Redis before this answers. Asked for
    `text/event-stream`, the answer is the job's event stream: one request, not two."""
    document = body.model_dump(mode="json", exclude_none=True)
    job: Accepted | None = None
    if idempotency_key is not None:
        existing, same = service.tenants.remembered(tenant, idempotency_key, document)
        if existing is not None and not same:
            raise ServiceError(
                422,
                "this Idempotency-Key was used with another body: use a new key",
                field="header.idempotency-key",
            )
        if existing is not None:
            response.headers["Idempotent-Replayed"] = "true"
            job = accepted(existing, service.client.get(existing).status())  # as it is now
    if job is None:
        job_id = None
        try:
            job_id = submit_for(service, tenant, body)
        finally:
            if idempotency_key is not None:
                service.tenants.remember(tenant, idempotency_key, document, job_id)
        job = accepted(job_id, initial_status(body, service))
    response.headers["Location"] = job.links.self
    if accept is None or "text/event-stream" not in accept:
        return job
    first = sse("job_accepted", job.model_dump(mode="json"))
    return stream_response(service, job.job_id, first=first, **response.headers)


def owned(service: Service, tenant: Tenant, job_id: str) -> str:
    """The job id if the tenant owns the job; 404 (as for no job) if not."""
    if len(job_id) > 64 or not service.tenants.owns(tenant, job_id):
        raise not_found(f"job {job_id!r}")
    return job_id


@router.get("/jobs", response_model=JobPage)
def list_jobs(
    service: ServiceDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,9}$")] = None,
) -> JobPage:
    """The key's jobs, newest first, a page at a time."""
    offset = int(cursor or 0)
    ids, more = service.tenants.jobs(tenant, offset, limit)
    pipe = service.redis.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(names.job_key(job_id), ["status", "goal", "created_at", "finished_at"])
    summaries = []
    for job_id, fields in zip(ids, pipe.execute(), strict=True):
        status, goal, created, finished = cast(list[str | None], fields)
        if status is None:  # expired
            continue
        summaries.append(
            JobSummary(
                job_id=job_id,
                status=cast(JobStatus, status),
                goal=Goal.model_validate_json(goal).text if goal else None,
                created_at=from_timestamp(created),
                finished_at=from_timestamp(finished),
            )
        )
    return JobPage(jobs=summaries, next_cursor=str(offset + limit) if more else None)


@router.get("/jobs/{job_id}", response_model=JobResult)
def get_job(job_id: str, service: ServiceDep, tenant: TenantDep) -> JobResult:
    """The job as it stands: status, plan, steps, answer, scores."""
    return service.client.get(owned(service, tenant, job_id)).result()


@router.post("/jobs/{job_id}/cancel", response_model=Cancelled)
def cancel_job(job_id: str, service: ServiceDep, tenant: TenantDep) -> Cancelled:
    """Stop dispatching the job's steps."""
    status = service.client.get(owned(service, tenant, job_id)).cancel()
    return Cancelled(job_id=job_id, status=status)


@router.get("/agents", tags=["deployment"])
def agent_cards(service: ServiceDep, tenant: TenantDep) -> dict[str, Any]:
    """The agent types live workers serve: their cards, and how many workers serve each."""
    workers = service.client.live_workers().values()
    cards = service.client.cards()
    served: dict[str, int] = {}
    for info in workers:
        for agent in info.get("agents", []):
            served[agent] = served.get(agent, 0) + 1
    return {
        "agents": [
            {**json.loads(card.model_dump_json()), "workers": served.get(name, 0)}
            for name, card in sorted(cards.items())
        ]
    }


@router.get("/collections", tags=["deployment"])
def collections(service: ServiceDep, tenant: TenantDep) -> dict[str, list[str]]:
    """The collections this key may search."""
    here = sorted({DEMO, *collection_names(service.settings.data_dir)})
    return {"collections": [name for name in here if tenant.may_search(name)]}
