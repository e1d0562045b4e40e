"""The ``retrieval`` agent: BM25, dense or hybrid search over a collection built by
``celeriac index``.

Dense search (``celeriac[dense]``) ranks by the cosine similarity of all-MiniLM-L6-v2
embeddings; hybrid search fuses the BM25 and dense rankings by reciprocal rank fusion.

Offline: the index lives under the data directory (CELERIAC_DATA_DIR), which every
retrieval worker shares. A worker loads a collection on its first query and again
whenever ``celeriac index`` has rebuilt it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agents.base import Agent, StepContext
from agents.collections import (
    DEMO,
    Collection,
    check_name,
    current_version,
    ensure_demo,
    load_collection,
    unknown_collection,
)
from agents.errors import AgentError, CollectionError, PermanentError
from agents.llm import ChatModel, Message
from agents.scoring import Score, ScoreContext
from agents.scoring import retrieval as scoring

MAX_QUERY_CHARS = 10_000
RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al., 2009)
FUSION_DEPTH = 100  # how deep each ranking is read for hybrid search (k is at most 100)

Mode = Literal["bm25", "dense", "hybrid", "auto"]
BY_WORDS_IF_NEED_BE = ("bm25", "auto")  # the modes that search without the dense extra


class RetrievalInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str = Field(max_length=MAX_QUERY_CHARS, description="What to search for.")
    collection: str = Field(description="A collection made by `celeriac index NAME PATH...`.")
    k: int = Field(default=5, ge=1, le=100, description="How many hits at most.")
    mode: Mode = Field(
        default="bm25",
        description="bm25 (keywords), dense (meaning, by embeddings), hybrid (both, fused) or "
        "auto (hybrid where the dense extra and the collection's embeddings are there, else bm25).",
    )

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


def fuse(rankings: Sequence[Sequence[int]], k: int) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: each document scores the sum of ``1 / (RRF_K + rank)`` over
    the rankings it appears in (rank 1 is best); the ``k`` best as (number, score).

    Equal scores keep the order of the document numbers.

    >>> fuse([[3, 1], [1, 2]], 2)
    [(1, 0.032522474881015335), (3, 0.01639344262295082)]
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, number in enumerate(ranking, start=1):
            scores[number] = scores.get(number, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]


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
        self._demo_checked: set[Path] = set()

    def get(self, data_dir: Path, name: str) -> Collection:
        key = (data_dir, name)
        if name == DEMO and data_dir not in self._demo_checked:
            ensure_demo(data_dir)  # once per process and data directory
            self._demo_checked.add(data_dir)
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
        "Finds the passages of a document collection most relevant to a query; works "
        "offline. Input: `query` (the words to look for, e.g. the user's question), "
        "`collection` (the name of a collection made with `celeriac index NAME PATH...`; "
        "`demo` is a small support knowledge base for the Parsnip notes app), "
        "`k` (how many passages at most, 1-100, default 5) and `mode`: `bm25` (default; "
        "keyword search with English stemming), `dense` (by meaning, finds paraphrases "
        "that share no words with the query), `hybrid` (both rankings fused; usually the "
        "best when available) or `auto` (hybrid where it can be, else bm25). `dense` and "
        "`hybrid` need the celeriac[dense] extra and a collection indexed with it. "
        "Output: `hits`, best first, each with `id`, `title`, `text` and `score`; pass "
        "them to a generation step as its context to answer from them. Fails if the "
        "collection does not exist."
    )
    Input = RetrievalInput
    Output = RetrievalOutput

    @classmethod
    def warm_up(cls) -> None:
        from agents import thesaurus  # with bm25s and numpy, ~0.7 s: off the first step's path

        thesaurus.load()

    def __init__(self) -> None:
        self.collections = CollectionCache()

    @classmethod
    def capabilities(cls, model: ChatModel | None) -> dict[str, Any]:
        from agents import dense

        return {"dense": dense.available()}

    @classmethod
    def unable(cls, input: RetrievalInput, capabilities: Mapping[str, Any]) -> str | None:
        from agents import dense

        plain = input.mode in BY_WORDS_IF_NEED_BE
        return None if plain or capabilities.get("dense", True) else dense.MISSING

    def score(
        self,
        input: RetrievalInput,
        output: RetrievalOutput,
        reference: Mapping[str, Any] | None,
        context: ScoreContext,
    ) -> list[Score]:
        return scoring.score(input, output, reference, context)

    def run(self, input: RetrievalInput, context: StepContext) -> RetrievalOutput:
        from agents import dense  # numpy only in processes that search

        mode = input.mode
        if mode not in BY_WORDS_IF_NEED_BE:
            dense.require()
        collection = self.collections.get(context.data_dir, input.collection)
        if mode == "auto":
            can = collection.embeddings is not None and dense.available()
            mode = "hybrid" if can else "bm25"
        embeddings = collection.dense_embeddings() if mode != "bm25" else None
        # The model's keywords suit keyword search; dense search embeds the query as given.
        rewritten = self._rewrite(input.query, context) if mode != "dense" else None
        if embeddings is None:
            ranked = collection.index.search(self._terms(input.query, rewritten), input.k)
        else:
            similar = dense.rank(embeddings, dense.encode([input.query])[0], FUSION_DEPTH)
            if mode == "dense":
                ranked = similar[: input.k]
            else:
                keywords = collection.index.search(
                    self._terms(input.query, rewritten, required=False), FUSION_DEPTH
                )
                ranked = fuse([[i for i, _ in keywords], [i for i, _ in similar]], input.k)
        hits = [
            Hit(id=document.id, title=document.title, text=document.text, score=score)
            for document, score in ((collection.documents[i], score) for i, score in ranked)
        ]
        context.progress(1.0, f"{len(hits)} hits in {input.collection}")
        return RetrievalOutput(hits=hits, rewritten=rewritten)

    @staticmethod
    def _terms(query: str, rewritten: str | None, *, required: bool = True) -> list[str]:
        """The BM25 terms of the query and its rewriting; hybrid search can do without."""
        found = query_terms(query) + query_terms(rewritten or "")
        if required and not found:
            raise PermanentError(
                f"the query {query[:80]!r} has no searchable words (only stopwords, "
                "punctuation or single letters): give some content words"
            )
        return found

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


def query_terms(query: str) -> list[str]:
    """The BM25 terms of ``query`` with their synonyms and verb forms (``agents.thesaurus``),
    so that "What do I do if I crash?" finds the page about accidents."""
    from agents.bm25 import terms  # bm25s only in processes that search
    from agents.thesaurus import expansions, normalise

    found = terms(normalise(query))
    return found + [more for term in dict.fromkeys(found) for more in expansions(term)]
