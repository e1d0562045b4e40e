"""Conversations in Redis: turns on a collection, each an ordinary job, for the HTTP
routes and the SDK alike (``client.conversation()``).

A follow-up is understood in the context of the turns before it: with a model, it is
rewritten from the earlier questions into one that stands alone ("Can I export my notes
on my phone?"); offline, its goal carries the earlier questions' topic words ("and can I
do it on my phone? (export notes)"), so that the search and the answer look for what the
conversation is about. Turns live in Redis
with a TTL and a maximum length (CELERIAC_CONVERSATION_TTL_SECONDS, _MAX_TURNS).

>>> talk = client.conversation("demo")
>>> talk.ask("How do I export my notes?").wait(timeout=60)
>>> talk.ask("and can I do it on my phone?").wait(timeout=60).answer["citations"]
['export-notes']
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import redis

from agents.errors import PermanentError, TransientError
from agents.extractive import Question
from agents.llm import ChatModel, Message
from orchestrator import names
from orchestrator.errors import UserError
from orchestrator.models import Plan
from orchestrator.plans import dependencies

if TYPE_CHECKING:
    from orchestrator.client import Client, JobHandle

TOPIC_TURNS = 2  # the earlier questions whose topic a follow-up carries
TOPIC_WORDS = 6
SDK_OWNER = "sdk"  # the owner of conversations the SDK makes (no key is involved)


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


REWRITE = (
    "Rewrite the user's last question so that it is understood without the conversation "
    "before it: say what words such as 'it', 'that' or 'there' stand for, keep its language "
    "and its meaning, and add nothing. Answer with the rewritten question alone."
)


def standalone(model: ChatModel | None, message: str, earlier: Sequence[str]) -> str:
    """The goal of a turn: with a model, the message rewritten to stand alone; offline
    (or when the model fails), ``followup_goal``."""
    if model is None or not earlier:
        return followup_goal(message, earlier)
    asked = "\n".join(f"- {text}" for text in earlier[-TOPIC_TURNS * 2 :])
    messages = [
        Message(role="system", content=REWRITE),
        Message(role="user", content=f"Earlier questions:\n{asked}\n\nLast question: {message}"),
    ]
    try:
        rewritten = model.chat(messages, temperature=0.0, max_tokens=200).text.strip()
    except (TransientError, PermanentError):
        rewritten = ""
    return rewritten or followup_goal(message, earlier)


def model_of(client: Client) -> ChatModel | None:
    """The deployment's chat model as this process has it (None: offline)."""
    from orchestrator.llm import build_chat_model

    engine = client.runtime.engine
    if engine.model is None:
        engine.model = build_chat_model(client.settings, client.runtime.redis)
    return engine.model


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


class ConversationStore:
    """Every conversation's owner, collection and turns (JSON: message, job id, goal)."""

    def __init__(self, client: redis.Redis, *, ttl: int, max_turns: int) -> None:
        self.redis = client
        self.ttl = ttl
        self.max_turns = max_turns

    def create(self, owner: str, collection: str) -> str:
        conversation_id = uuid.uuid4().hex
        key = names.conversation(conversation_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"owner": owner, "collection": collection})
        pipe.hset(key, "created_at", repr(time.time()))
        pipe.expire(key, self.ttl)
        pipe.execute()
        return conversation_id

    def info(self, conversation_id: str) -> tuple[str, str] | None:
        """(owner, collection), or None for a conversation that is not (or no longer) here."""
        owner, collection = cast(
            list[str | None],
            self.redis.hmget(names.conversation(conversation_id), ["owner", "collection"]),
        )
        return (owner, collection) if owner is not None and collection is not None else None

    def turns(self, conversation_id: str) -> list[dict[str, str]]:
        raw = cast(list[str], self.redis.lrange(names.conversation_turns(conversation_id), 0, -1))
        return [json.loads(item) for item in raw]

    def add(self, conversation_id: str, turn: dict[str, str]) -> int:
        """Append a turn (older ones past the maximum are dropped); its number."""
        turns = names.conversation_turns(conversation_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(turns, json.dumps(turn))
        pipe.ltrim(turns, -self.max_turns, -1)
        pipe.llen(turns)
        pipe.expire(turns, self.ttl)
        pipe.expire(names.conversation(conversation_id), self.ttl)
        return int(pipe.execute()[2])


def store_of(client: Client) -> ConversationStore:
    settings = client.settings
    return ConversationStore(
        client.runtime.redis,
        ttl=settings.conversation_ttl_seconds,
        max_turns=settings.conversation_max_turns,
    )


class Conversation:
    """A conversation through the SDK: ``ask`` a question, read its ``turns``."""

    def __init__(self, client: Client, conversation_id: str, collection: str) -> None:
        self.client = client
        self.id = conversation_id
        self.collection = collection
        self.store = store_of(client)

    def __repr__(self) -> str:
        return f"Conversation({self.id!r}, collection={self.collection!r})"

    @classmethod
    def open(
        cls, client: Client, collection: str | None, conversation_id: str | None
    ) -> Conversation:
        store = store_of(client)
        if conversation_id is None:
            name = collection or client.settings.default_collection
            return cls(client, store.create(SDK_OWNER, name), name)
        found = store.info(conversation_id)
        if found is None:
            raise UserError(f"no conversation {conversation_id!r} (or it has expired)")
        return cls(client, conversation_id, found[1])

    def ask(self, message: str, *, language: str | None = None) -> JobHandle:
        """A new turn: submit the message, in the context of the turns before it."""
        earlier = [turn["message"] for turn in self.store.turns(self.id)]
        goal = standalone(model_of(self.client), message, earlier)
        if language is not None:
            goal = f"{goal} Answer in {language}."
        handle = self.client.submit(goal=goal, collection=self.collection)
        self.store.add(self.id, {"message": message, "job_id": handle.id, "goal": goal})
        return handle

    def turns(self) -> list[dict[str, str]]:
        """The turns kept, oldest first: each its ``message``, ``job_id`` and ``goal``."""
        return self.store.turns(self.id)
