"""``/v1/conversations``: turns on a collection, each an ordinary job (how a follow-up
is understood, and how turns are kept: ``orchestrator.conversations``)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.conversations import (
    ConversationStore,
    answer_step,
    answer_text,
    citations,
    model_of,
    standalone,
)
from orchestrator.errors import JobNotFound
from orchestrator.models import JobResult, Score
from orchestrator.service.deps import Service, ServiceDep, TenantDep
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
    """A tenant's conversations: another key's are 404, as ones that never were."""

    def __init__(self, service: Service, tenant: Tenant) -> None:
        self.service = service
        self.tenant = tenant
        self.store = ConversationStore(
            service.redis,
            ttl=service.settings.conversation_ttl_seconds,
            max_turns=service.settings.conversation_max_turns,
        )

    def create(self, collection: str) -> str:
        return self.store.create(self.tenant.id, collection)

    def collection(self, conversation_id: str) -> str:
        found = self.store.info(conversation_id)
        if found is None or found[0] != self.tenant.id:
            raise not_found(f"conversation {conversation_id!r}")
        return found[1]

    def turns(self, conversation_id: str) -> list[dict[str, str]]:
        return self.store.turns(conversation_id)

    def add(self, conversation_id: str, turn: dict[str, str]) -> int:
        return self.store.add(conversation_id, turn)

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
    goal = standalone(model_of(service.client), body.message, earlier)
    request = JobRequest(goal=goal, collection=collection, language=body.language)
    job_id = submit_for(service, tenant, request)
    number = conversations.add(
        conversation_id, {"message": body.message, "job_id": job_id, "goal": goal}
    )
    made = accepted(job_id, "pending")  # a goal, to be planned
    return MessageAccepted(
        **made.model_dump(), conversation_id=conversation_id, turn=number, goal=goal
    )
