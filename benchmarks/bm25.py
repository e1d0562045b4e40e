"""BM25 retrieval: building a collection, loading it, and answering queries.

No Redis or workers: this is what ``celeriac index`` does, and what one worker thread
does per retrieval step (``Retrieval.run``: the CURRENT check, query terms, scoring,
top 10, the output model); the Celery path around a step is measured by ``throughput``.

Documents are generated, no downloads: words drawn from a fixed vocabulary of 20,000
pseudo-words with Zipf frequencies (as in real text), 30-200 words per document, from
seeded generators, so every run indexes the same text. Queries are 2-5 words drawn
the same way after leaving out the 100 most frequent words (as stopwords would be), and
again from the whole vocabulary: frequent words occur in most documents, and scoring
costs in proportion to the documents a query's words occur in.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.base import StepContext
from agents.bm25 import Bm25Index
from agents.collections import load_collection, searchable, write_collection
from agents.documents import Document
from agents.retrieval import Retrieval, RetrievalInput
from benchmarks.report import Column, Table, fixed, median, percentile

SEED = 20261129
VOCABULARY = 20_000
FREQUENT = 100  # most frequent words, left out of queries
K = 10


@dataclass(frozen=True)
class Sizes:
    documents: tuple[int, ...]
    queries: int
    repeats: int


FULL = Sizes(documents=(1_000, 100_000), queries=1_000, repeats=3)
QUICK = Sizes(documents=(1_000, 10_000), queries=200, repeats=1)


def vocabulary(size: int = VOCABULARY) -> list[str]:
    """``size`` distinct pseudo-words of 2-4 syllables, always the same ones."""
    rng = random.Random(SEED)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choices(syllables, k=rng.randint(2, 4)))] = None
    return list(words)


def zipf_probabilities(size: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    weights = 1.0 / np.arange(1, size + 1)
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def documents(count: int, words: list[str]) -> list[Document]:
    rng = np.random.default_rng(SEED + count)
    lengths = rng.integers(30, 201, size=count)
    drawn = rng.choice(len(words), size=int(lengths.sum()), p=zipf_probabilities(len(words)))
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    return [
        Document(
            id=f"doc-{i}",
            title=f"Document {i}",
            text=" ".join(words[w] for w in drawn[bounds[i] : bounds[i + 1]]),
        )
        for i in range(count)
    ]


def queries(count: int, words: list[str]) -> list[str]:
    rng = np.random.default_rng(SEED - 1)
    probabilities = zipf_probabilities(len(words))
    return [
        " ".join(words[w] for w in rng.choice(len(words), size=int(n), p=probabilities))
        for n in rng.integers(2, 6, size=count)
    ]


def measure(
    data_dir: Path, docs: list[Document], asked: dict[str, list[str]], repeats: int
) -> dict[str, Any]:
    texts = [searchable(document) for document in docs]
    index_walls, build_walls, load_walls = [], [], []
    rates: dict[str, list[float]] = {kind: [] for kind in asked}
    latencies: dict[str, list[float]] = {kind: [] for kind in asked}
    for _ in range(repeats):
        start = time.perf_counter()
        Bm25Index.build(texts)
        index_walls.append(time.perf_counter() - start)
        start = time.perf_counter()
        write_collection(data_dir, "bench", docs)
        build_walls.append(time.perf_counter() - start)
        start = time.perf_counter()
        load_collection(data_dir, "bench")
        load_walls.append(time.perf_counter() - start)
        for kind, questions in asked.items():
            rate, each = query_rate(data_dir, questions)
            rates[kind].append(rate)
            latencies[kind] += each
    version_dir = next(p for p in (data_dir / "collections" / "bench").iterdir() if p.is_dir())
    return {
        "documents": len(docs),
        "words_per_doc": sum(len(d.text.split()) for d in docs) / len(docs),
        "runs": repeats,
        "index_s": median(index_walls),
        "build_s": median(build_walls),
        "build_range_s": f"{min(build_walls):.2f}-{max(build_walls):.2f}",
        "load_s": median(load_walls),
        **{f"{kind}_queries_per_s": median(values) for kind, values in rates.items()},
        **{f"{kind}_p50_ms": percentile(values, 50) * 1000 for kind, values in latencies.items()},
        **{f"{kind}_p95_ms": percentile(values, 95) * 1000 for kind, values in latencies.items()},
        "disk_mib": sum(f.stat().st_size for f in version_dir.rglob("*") if f.is_file()) / 2**20,
    }


def query_rate(data_dir: Path, asked: list[str]) -> tuple[float, list[float]]:
    """Queries/s of one thread through ``Retrieval.run``, after a first (loading) query."""
    agent = Retrieval()
    context = StepContext(job_id="b", step_id="s", attempt=1, agent="retrieval", data_dir=data_dir)
    inputs = [RetrievalInput(query=q, collection="bench", k=K) for q in asked]
    agent.run(inputs[0], context)
    each = []
    start = time.perf_counter()
    for one in inputs:
        began = time.perf_counter()
        agent.run(one, context)
        each.append(time.perf_counter() - began)
    return len(inputs) / (time.perf_counter() - start), each


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    sizes = QUICK if quick else FULL
    repeats = repeats or sizes.repeats
    words = vocabulary()
    asked = {
        "rare": queries(sizes.queries, words[FREQUENT:]),
        "any": queries(sizes.queries, words),
    }
    table = Table(
        "BM25 retrieval (one process, one thread; median of runs)",
        [
            Column("documents", "documents", fixed(0)),
            Column("words_per_doc", "words/doc", fixed(0)),
            Column("runs", "runs"),
            Column("index_s", "index in memory s", fixed(2)),
            Column("build_s", "build+save s", fixed(2), better="lower"),
            Column("build_range_s", "min-max s"),
            Column("load_s", "load s", fixed(2)),
            Column("rare_queries_per_s", "queries/s", fixed(0), better="higher"),
            Column("rare_p50_ms", "p50 ms", fixed(2)),
            Column("rare_p95_ms", "p95 ms", fixed(2)),
            Column("any_queries_per_s", "queries/s, any words", fixed(0), better="higher"),
            Column("any_p50_ms", "p50 ms", fixed(2)),
            Column("any_p95_ms", "p95 ms", fixed(2)),
            Column("disk_mib", "on disk MiB", fixed(1)),
        ],
        key=("documents",),
    )
    for count in sizes.documents:
        docs = documents(count, words)
        with tempfile.TemporaryDirectory(prefix="celeriac-bm25-") as data_dir:
            table.rows.append(measure(Path(data_dir), docs, asked, repeats))
    table.notes += [
        f"{VOCABULARY:,} pseudo-words with Zipf frequencies, 30-200 words per document "
        f"(seed {SEED}); {sizes.queries:,} queries of 2-5 words, k={K}, without the "
        f"{FREQUENT} most frequent words, then ('any words') with them",
        "index in memory: tokenize (stopwords, Snowball stemming) and bm25s index; "
        "build+save: what `celeriac index` does after reading files (also writes "
        "documents.jsonl and switches CURRENT)",
        "load: a worker's first query or first after a rebuild (documents and index)",
        "queries/s: Retrieval.run in a loop on one thread, after one warm-up query",
        "DESIGN.md: bm25s answers 2,000-4,000 queries/s on ~1,000 documents, indexes them "
        "in ~0.1 s",
    ]
    return [table]
