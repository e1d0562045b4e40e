"""``POST /v1/chat/completions``: celeriac in the OpenAI wire format, so that the ``openai``
SDK and chat front-ends talk to it as to a model.

``model`` names a collection; the messages are the conversation (its last message the
question, the earlier user messages its context). The answer's citations, scores and
job id are in the extra field ``celeriac`` of the completion (and of the last chunk of a
stream)::

    {"job_id": "...", "status": "succeeded", "citations": ["reset-password"], "score": 0.8}
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.conversations import (
    answer_step,
    answer_text,
    citations,
    model_of,
    standalone,
)
from orchestrator.errors import JobTimeout
from orchestrator.models import JobResult
from orchestrator.service.deps import Service, ServiceDep, TenantDep
from orchestrator.service.errors import ServiceError
from orchestrator.service.jobs import JobRequest, submit_for
from orchestrator.service.streams import SSE_HEADERS, job_events
from orchestrator.service.tenants import Tenant

router = APIRouter(prefix="/v1", tags=["openai"])
WAIT_SECONDS = 300.0


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_call_id...: read by nobody here

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: the text ones
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    # temperature, max_tokens, user...: accepted and ignored, as a front-end sends them.
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, description="The collection to answer from.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


def question_and_history(body: ChatRequest) -> tuple[str, list[str]]:
    last = body.messages[-1]
    if last.role != "user" or not last.text().strip():
        raise ServiceError(
            400, "the last message must be the user's question", field="body.messages"
        )
    earlier = [m.text() for m in body.messages[:-1] if m.role == "user" and m.text().strip()]
    return last.text(), earlier


def extra(result: JobResult) -> dict[str, Any]:
    step = answer_step(result.plan)
    scores = result.steps[step].scores if step in result.steps else []
    return {
        "job_id": result.job_id,
        "status": result.status,
        "citations": citations(result.answer),
        "answered": result.answered,
        "score": result.score,
        "scores": [score.model_dump() for score in scores],
        "error": result.error,
    }


def usage(result: JobResult) -> dict[str, int]:
    return {
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "total_tokens": result.usage.total_tokens,
    }


def _submit(service: Service, tenant: Tenant, body: ChatRequest) -> str:
    question, earlier = question_and_history(body)
    goal = standalone(model_of(service.client), question, earlier)
    return submit_for(service, tenant, JobRequest(goal=goal, collection=body.model))


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatRequest, service: ServiceDep, tenant: TenantDep) -> Response:
    """A chat completion (``stream: true``: chunks as Server-Sent Events) whose answer is a
    celeriac job's on the collection ``model``."""
    job_id = await anyio.to_thread.run_sync(lambda: _submit(service, tenant, body))
    created = int(time.time())
    if body.stream:
        chunks = _chunks(service, job_id, body.model, created)
        return StreamingResponse(chunks, media_type="text/event-stream", headers=SSE_HEADERS)
    result = await anyio.to_thread.run_sync(lambda: _wait(service, job_id))
    if result.status in ("failed", "cancelled"):
        raise ServiceError(502, f"job {job_id} {result.status}: {result.error}", type="job_failed")
    completion = {
        "id": f"chatcmpl-{job_id}",
        "object": "chat.completion",
        "created": created,
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer_text(result.answer)},
                "finish_reason": "stop",
            }
        ],
        "usage": usage(result),
        "celeriac": extra(result),
    }
    return JSONResponse(completion)


def _wait(service: Service, job_id: str) -> JobResult:
    try:
        return service.client.get(job_id).wait(timeout=WAIT_SECONDS)
    except JobTimeout:
        raise ServiceError(504, f"job {job_id} did not end in {WAIT_SECONDS:g}s") from None


def _chunk(job_id: str, model: str, created: int, delta: dict[str, Any], **more: Any) -> bytes:
    chunk = {
        "id": f"chatcmpl-{job_id}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": more.pop("finish", None)}],
        **more,
    }
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()


async def _chunks(service: Service, job_id: str, model: str, created: int) -> AsyncIterator[bytes]:
    """The answer step's pieces as they are written, then what the final answer has
    beyond them (all of it, when the answer step does not stream, as translation)."""
    yield _chunk(job_id, model, created, {"role": "assistant", "content": ""})
    step: str | None = None
    streamed = ""
    async for _, event in job_events(service, job_id, "0"):
        kind = event.get("type")
        if kind in ("job_planned", "job_replanned"):
            plan = await anyio.to_thread.run_sync(lambda: service.client.runtime.store.plan(job_id))
            step = answer_step(plan)
        elif kind == "step_delta" and event.get("step_id") == step:
            text = str(event["data"].get("text", ""))
            streamed += text
            yield _chunk(job_id, model, created, {"content": text})
        elif kind == "job_finished":
            result = JobResult.model_validate(event["result"])
            final = answer_text(result.answer)
            rest = final[len(streamed) :] if final.startswith(streamed) else ""
            if not streamed and result.status in ("failed", "cancelled"):
                rest = f"(celeriac: the job {result.status}: {result.error})"
            if rest:
                yield _chunk(job_id, model, created, {"content": rest})
            yield _chunk(
                job_id,
                model,
                created,
                {},
                finish="stop",
                usage=usage(result),
                celeriac=extra(result),
            )
    yield b"data: [DONE]\n\n"
