"""A person's answer over HTTP: ``POST /v1/jobs/{id}/approve`` and ``.../reject``.

The same as ``job.approve()`` and ``job.reject(reason)`` in the SDK: each answer is one
Lua script, so of two people answering at once exactly one wins; the other, and anyone
answering a job that is not waiting, gets 409 with the job's status.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.models import JobStatus
from orchestrator.service.deps import ServiceDep, TenantDep
from orchestrator.service.jobs import owned

router = APIRouter(prefix="/v1", tags=["approval"])


class Approve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: dict[str, Any] | None = Field(
        default=None, description="An edited plan to run instead (validated like any plan)."
    )
    step: str | None = Field(default=None, description="The step awaiting approval, if one.")


class Reject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="Why not: the job's error.")
    step: str | None = Field(default=None, description="The step awaiting approval, if one.")


class Answered(BaseModel):
    job_id: str
    status: JobStatus


@router.post("/jobs/{job_id}/approve", response_model=Answered)
def approve(job_id: str, body: Approve, service: ServiceDep, tenant: TenantDep) -> Answered:
    """Let the plan (as it is, or edited) or a step that awaits approval run."""
    job = service.client.get(owned(service, tenant, job_id))
    return Answered(job_id=job_id, status=job.approve(body.plan, step=body.step))


@router.post("/jobs/{job_id}/reject", response_model=Answered)
def reject(job_id: str, body: Reject, service: ServiceDep, tenant: TenantDep) -> Answered:
    """Say no: the job ends rejected with the reason, or the step fails with it."""
    job = service.client.get(owned(service, tenant, job_id))
    return Answered(job_id=job_id, status=job.reject(body.reason, step=body.step))
