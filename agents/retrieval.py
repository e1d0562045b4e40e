"""The ``retrieval`` agent: BM25 search over a collection built by ``celeriac index``.

Offline: the index lives under the data directory (CELERIAC_DATA_DIR), which every
retrieval worker shares. A worker loads a collection on its first query and again
whenever ``celeriac index`` has rebuilt it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agents.base import Agent, StepContext
from agents.collections import (
    Collection,
    check_name,
    current_version,
    load_collection,
    unknown_collection,
)
from agents.errors import AgentError, CollectionError, PermanentError
from agents.llm import Message

MAX_QUERY_CHARS = 10_000


class RetrievalInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str = Field(max_length=MAX_QUERY_CHARS, description="What to search for.")
    collection: str = Field(description="A collection made by `celeriac index NAME PATH...`.")
    k: int = Field(default=5, ge=1, le=100, description="How many hits at most.")

    @field_validator("query")
    @classmethod
    def _query_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is empty: give the words to search for")
        return value

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        try:
            return check_name(value)
        except CollectionError as exc:
            raise ValueError(str(exc)) from None


class Hit(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    text: str
    score: float


class RetrievalOutput(BaseModel):
    model_config = ConfigDict(frozen=True)

    hits: list[Hit]
    rewritten: str | None = Field(
        default=None, description="Keywords a language model added to the query, if any."
    )


class _Keywords(BaseModel):
    keywords: str = Field(description="Search keywords: synonyms and likely document terms.")


REWRITE = (
    "Rewrite the user's question as search keywords for a keyword (BM25) search engine over "
    "a document collection: the question's important words plus synonyms and terms the "
    "documents are likely to use. Reply with the keywords only."
)


class CollectionCache:
    """Loaded collections, shared by the threads of one worker.

    Each lookup reads the collection's small ``CURRENT`` file; when it names a version
    other than the one loaded, one thread loads the new version while the others wait
    for it (threads searching the old version finish with it undisturbed).
    """

    def __init__(self) -> None:
        self._loaded: dict[tuple[Path, str], Collection] = {}
        self._locks: dict[tuple[Path, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, data_dir: Path, name: str) -> Collection:
        key = (data_dir, name)
        version = current_version(data_dir, name)
        if version is None:
            raise unknown_collection(data_dir, name)
        loaded = self._loaded.get(key)
        if loaded is not None and loaded.version == version:
            return loaded
        with self._lock(key):
            loaded = self._loaded.get(key)
            if loaded is None or loaded.version != current_version(data_dir, name):
                loaded = self._loaded[key] = load_collection(data_dir, name)
            return loaded

    def _lock(self, key: tuple[Path, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


class Retrieval(Agent):
    name = "retrieval"
    description = (
        "Finds the passages of a document collection most relevant to a query, by keyword "
        "search (BM25 with English stemming; works offline). Input: `query` (the words to "
        "look for, e.g. the user's question), `collection` (the name of a collection made "
        "with `celeriac index NAME PATH...`) and `k` (how many passages at most, 1-100, "
        "default 5). Output: `hits`, best first, each with `id`, `title`, `text` and "
        "`score`; pass them to a generation step as its context to answer from them. "
        "Fails if the collection does not exist."
    )
    Input = RetrievalInput
    Output = RetrievalOutput

    def __init__(self) -> None:
        self.collections = CollectionCache()

    def run(self, input: RetrievalInput, context: StepContext) -> RetrievalOutput:
        from agents.bm25 import terms  # numpy and bm25s only in processes that search

        collection = self.collections.get(context.data_dir, input.collection)
        rewritten = self._rewrite(input.query, context)
        query_terms = terms(input.query) + terms(rewritten or "")
        if not query_terms:
            raise PermanentError(
                f"the query {input.query[:80]!r} has no searchable words (only stopwords, "
                "punctuation or single letters): give some content words"
            )
        hits = [
            Hit(id=document.id, title=document.title, text=document.text, score=score)
            for document, score in collection.search(query_terms, input.k)
        ]
        context.progress(1.0, f"{len(hits)} hits in {input.collection}")
        return RetrievalOutput(hits=hits, rewritten=rewritten)

    @staticmethod
    def _rewrite(query: str, context: StepContext) -> str | None:
        """Keywords from the model to search with as well; None without a model.

        Rewriting only adds terms, and is optional: if the model fails, the step
        searches with the query as given rather than failing.
        """
        if context.model is None:
            return None
        messages = [Message(role="system", content=REWRITE), Message(role="user", content=query)]
        try:
            keywords, _ = context.model.structured(messages, _Keywords, max_tokens=100)
        except AgentError as exc:
            context.logger.warning("query rewriting failed (%s); searching as given", exc)
            return None
        return keywords.keywords.strip() or None
