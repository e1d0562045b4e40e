"""``/v1/conversations``: turns on a collection, each an ordinary job.

A follow-up is understood in the context of the turns before it: its goal carries the
earlier questions' topic words ("and can I do it on my phone? (export notes)"), so that
the search and the answer look for what the conversation is about. Turns live in Redis
with a TTL and a maximum length (CELERIAC_CONVERSATION_TTL_SECONDS, _MAX_TURNS).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any, cast

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from agents.extractive import Question
from orchestrator.errors import JobNotFound
from orchestrator.models import JobResult, Plan, Score
from orchestrator.plans import dependencies
from orchestrator.service import wire
from orchestrator.service.app import Service, ServiceDep, TenantDep
from orchestrator.service.errors import not_found
from orchestrator.service.jobs import (
    Accepted,
    JobRequest,
    accepted,
    check_collection,
    default_collection,
    submit_for,
)
from orchestrator.service.tenants import Tenant

router = APIRouter(prefix="/v1", tags=["conversations"])
TOPIC_TURNS = 2  # the earlier questions whose topic a follow-up carries
TOPIC_WORDS = 6


def topic_words(message: str, earlier: Sequence[str]) -> list[str]:
    """The content words of the last earlier questions that ``message`` does not have."""
    have = Question(message).terms
    words: dict[str, str] = {}
    for text in earlier[-TOPIC_TURNS:]:
        for term, word in Question(text).words.items():
            if term not in have:
                words.setdefault(term, word.lower())
    return list(words.values())[-TOPIC_WORDS:]


def followup_goal(message: str, earlier: Sequence[str]) -> str:
    """The goal of a turn: the message, with the earlier turns' topic when it lacks it."""
    words = topic_words(message, earlier)
    return f"{message.rstrip()} ({' '.join(words)})" if words else message


def answer_step(plan: Plan | None) -> str | None:
    """The step whose output is the job's answer: ``answer_from``, else the one end."""
    if plan is None:
        return None
    if plan.answer_from:
        return plan.answer_from
    needed = {parent for step in plan.steps for parent in dependencies(step)}
    ends = [step.id for step in plan.steps if step.id not in needed]
    return ends[0] if len(ends) == 1 else None


def answer_text(answer: Any) -> str:
    if isinstance(answer, dict) and isinstance(answer.get("text"), str):
        return str(answer["text"])
    if isinstance(answer, str):
        return answer
    return "" if answer is None else json.dumps(answer, ensure_ascii=False)


def citations(answer: Any) -> list[str]:
    if isinstance(answer, dict) and isinstance(answer.get("citations"), list):
        return [str(c) for c in answer["citations"]]
    return []


class NewConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collection: str | None = Field(default=None, description="Default: the server's.")


class NewMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=20_000)
    language: str | None = Field(default=None, min_length=2, max_length=40)


class Turn(BaseModel):
    message: str
    job_id: str
    goal: str = Field(description="What the job was asked: the message in its context.")
    status: str = Field(description="The job's, or 'expired'.")
    answer: str = ""
    citations: list[str] = Field(default_factory=list)
    score: float | None = None
    scores: list[Score] = Field(default_factory=list, description="The answer step's.")


class Conversation(BaseModel):
    conversation_id: str
    collection: str
    turns: list[Turn]


class MessageAccepted(Accepted):
    conversation_id: str
    turn: int
    goal: str


def turn_of(stored: dict[str, str], result: JobResult | None) -> Turn:
    turn = Turn(status="expired", **stored)  # type: ignore[arg-type]
    if result is None:
        return turn
    step = answer_step(result.plan)
    scores = result.steps[step].scores if step in result.steps else []
    return turn.model_copy(
        update={
            "status": result.status,
            "answer": answer_text(result.answer),
            "citations": citations(result.answer),
            "score": result.score,
            "scores": scores,
        }
    )


class Conversations:
    """A tenant's conversations in Redis."""

    def __init__(self, service: Service, tenant: Tenant) -> None:
        self.service = service
        self.tenant = tenant
        self.redis = service.redis
        self.ttl = service.settings.conversation_ttl_seconds

    def create(self, collection: str) -> str:
        conversation_id = uuid.uuid4().hex
        key = wire.conversation(conversation_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"owner": self.tenant.id, "collection": collection})
        pipe.hset(key, "created_at", repr(time.time()))
        pipe.expire(key, self.ttl)
        pipe.execute()
        return conversation_id

    def collection(self, conversation_id: str) -> str:
        """Its collection; 404 for one that is another key's, or gone."""
        owner, collection = cast(
            list[str | None],
            self.redis.hmget(wire.conversation(conversation_id), ["owner", "collection"]),
        )
        if owner != self.tenant.id or collection is None:
            raise not_found(f"conversation {conversation_id!r}")
        return collection

    def turns(self, conversation_id: str) -> list[dict[str, str]]:
        raw = cast(list[str], self.redis.lrange(wire.conversation_turns(conversation_id), 0, -1))
        return [json.loads(item) for item in raw]

    def add(self, conversation_id: str, turn: dict[str, str]) -> int:
        """Append a turn (older ones past the maximum are dropped); its number."""
        turns = wire.conversation_turns(conversation_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(turns, json.dumps(turn))
        pipe.ltrim(turns, -self.service.settings.conversation_max_turns, -1)
        pipe.llen(turns)
        pipe.expire(turns, self.ttl)
        pipe.expire(wire.conversation(conversation_id), self.ttl)
        return int(pipe.execute()[2])

    def view(self, conversation_id: str) -> Conversation:
        collection = self.collection(conversation_id)
        turns = []
        for stored in self.turns(conversation_id):
            try:
                result = self.service.client.get(stored["job_id"]).result()
            except JobNotFound:
                result = None
            turns.append(turn_of(stored, result))
        return Conversation(conversation_id=conversation_id, collection=collection, turns=turns)


@router.post("/conversations", status_code=201, response_model=Conversation)
def create_conversation(
    body: NewConversation, service: ServiceDep, tenant: TenantDep
) -> Conversation:
    """A new conversation on a collection."""
    collection = body.collection or default_collection(service, tenant)
    check_collection(service, tenant, collection)
    conversation_id = Conversations(service, tenant).create(collection)
    return Conversation(conversation_id=conversation_id, collection=collection, turns=[])


@router.get("/conversations/{conversation_id}", response_model=Conversation)
def get_conversation(conversation_id: str, service: ServiceDep, tenant: TenantDep) -> Conversation:
    """The conversation's turns, each with its answer, citations and scores as they stand."""
    return Conversations(service, tenant).view(conversation_id)


@router.post(
    "/conversations/{conversation_id}/messages", status_code=202, response_model=MessageAccepted
)
def post_message(
    conversation_id: str, body: NewMessage, service: ServiceDep, tenant: TenantDep
) -> MessageAccepted:
    """A new turn: a job, whose events stream as any job's do."""
    conversations = Conversations(service, tenant)
    collection = conversations.collection(conversation_id)
    earlier = [turn["message"] for turn in conversations.turns(conversation_id)]
    goal = followup_goal(body.message, earlier)
    request = JobRequest(goal=goal, collection=collection, language=body.language)
    job_id = submit_for(service, tenant, request)
    number = conversations.add(
        conversation_id, {"message": body.message, "job_id": job_id, "goal": goal}
    )
    made = accepted(job_id, service.client.get(job_id).status())
    return MessageAccepted(
        **made.model_dump(), conversation_id=conversation_id, turn=number, goal=goal
    )
