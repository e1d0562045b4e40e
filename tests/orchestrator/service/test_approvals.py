"""A person's answer over HTTP: approve (as planned or edited), reject, and 409 for a job
that is not waiting or was answered already; on the shared deployment's real workers."""

from __future__ import annotations

from typing import Any

import httpx

from tests.orchestrator.service.conftest import plan_of
from tests.support.helpers import wait_for


def waiting(api: httpx.Client, body: dict[str, Any]) -> str:
    response = api.post("/v1/jobs", json={**body, "approval": "plan"})
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "awaiting_approval"
    job_id: str = response.json()["job_id"]
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "awaiting_approval" and job["steps"]["a"]["status"] == "waiting"
    return job_id


def ended(api: httpx.Client, job_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/v1/jobs/{job_id}").json()
        return body if body["status"] not in ("pending", "running", "awaiting_approval") else None

    result: dict[str, Any] = wait_for(done, timeout=60, what=f"job {job_id} to end")
    return result


def test_an_approved_plan_runs_and_a_second_answer_is_a_conflict(api: httpx.Client) -> None:
    job_id = waiting(api, {"plan": plan_of("echo", text="yes")})
    approved = api.post(f"/v1/jobs/{job_id}/approve", json={})
    assert approved.status_code == 200, approved.text
    assert approved.json() == {"job_id": job_id, "status": "running"}
    assert ended(api, job_id)["answer"] == {"text": "yes"}
    again = api.post(f"/v1/jobs/{job_id}/reject", json={"reason": "too late"})
    assert again.status_code == 409
    assert "not awaiting approval" in again.json()["error"]["message"]


def test_an_edited_plan_runs_instead_and_an_invalid_edit_leaves_the_job_waiting(
    api: httpx.Client,
) -> None:
    job_id = waiting(api, {"plan": plan_of("echo", text="as planned")})
    bad = api.post(f"/v1/jobs/{job_id}/approve", json={"plan": plan_of("nosuch", text="x")})
    assert bad.status_code == 400 and "nosuch" in bad.json()["error"]["message"]
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "awaiting_approval"
    edited = api.post(f"/v1/jobs/{job_id}/approve", json={"plan": plan_of("echo", text="edited")})
    assert edited.status_code == 200, edited.text
    assert ended(api, job_id)["answer"] == {"text": "edited"}


def test_a_rejected_plan_ends_rejected_with_the_reason_and_nothing_ran(api: httpx.Client) -> None:
    job_id = waiting(api, {"plan": plan_of("echo", text="no")})
    answer = api.post(f"/v1/jobs/{job_id}/reject", json={"reason": "not today"})
    assert answer.status_code == 200 and answer.json()["status"] == "rejected"
    result = api.get(f"/v1/jobs/{job_id}").json()
    assert result["status"] == "rejected" and "not today" in result["error"]
    assert result["steps"]["a"]["attempts"] == 0
    assert api.post(f"/v1/jobs/{job_id}/reject", json={"reason": ""}).status_code == 422
    assert api.post("/v1/jobs/nosuchjob/approve", json={}).status_code == 404
