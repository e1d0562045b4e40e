"""BM25 ranking: terms, top-k selection, building, saving and loading an index."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from agents.bm25 import Bm25Index, terms, top_k

DOCS = [
    "How to reset a forgotten password",
    "Billing and invoices are monthly",
    "Passwords must be twelve characters long",
    "Resetting your router fixes most connection problems",
]


def test_terms_are_lowercased_stemmed_and_without_stopwords() -> None:
    # Lucene's 33 English stopwords (bm25s "en"), then Snowball's English stemmer.
    assert terms("The PASSWORDS of a user, reset: resetting!") == [
        "password",
        "user",
        "reset",
        "reset",
    ]
    assert terms("to be or not to be, a") == []


def test_terms_from_many_threads_at_once() -> None:
    # Each thread has a stemmer of its own; a shared one would be corrupted.
    words = " ".join(f"running{i} jumps{i} houses{i}" for i in range(200))
    expected = terms(words)
    results: list[list[str]] = []

    def work() -> None:
        results.extend(terms(words) for _ in range(20))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 160
    assert all(result == expected for result in results)


def test_top_k_leaves_out_zeros_and_breaks_ties_by_position() -> None:
    scores = np.array([0.5, 0.0, 2.0, 0.5, 0.5, 1.0], dtype=np.float32)
    assert top_k(scores, 3) == [(2, 2.0), (5, 1.0), (0, 0.5)]
    assert top_k(scores, 4) == [(2, 2.0), (5, 1.0), (0, 0.5), (3, 0.5)]
    assert top_k(scores, 100) == [(2, 2.0), (5, 1.0), (0, 0.5), (3, 0.5), (4, 0.5)]
    assert top_k(np.zeros(3, dtype=np.float32), 2) == []


def test_search_ranks_documents_sharing_query_terms() -> None:
    index = Bm25Index.build(DOCS)
    assert index.size == 4
    ranked = index.search(terms("reset my password"), 10)
    assert ranked[0][0] == 0  # both terms; 2 has "passwords", 3 "resetting"
    assert sorted(number for number, _ in ranked) == [0, 2, 3]
    assert all(score > 0 for _, score in ranked)
    assert ranked == sorted(ranked, key=lambda hit: -hit[1])
    assert index.search(terms("reset my password"), 1) == ranked[:1]
    assert index.search(["zebra"], 5) == []
    assert index.search([], 5) == []


def test_an_index_survives_saving_and_loading(tmp_path: Path) -> None:
    index = Bm25Index.build(DOCS)
    index.save(tmp_path / "bm25")
    loaded = Bm25Index.load(tmp_path / "bm25")
    assert loaded.size == 4
    query = terms("monthly invoices for a router")
    assert loaded.search(query, 4) == index.search(query, 4)


def test_a_corpus_without_terms_cannot_be_indexed() -> None:
    with pytest.raises(ValueError, match="no document has a searchable word"):
        Bm25Index.build(["the and of", "!!!"])


def test_documents_without_terms_among_others_are_fine() -> None:
    index = Bm25Index.build(["the and of", "password reset"])
    assert index.search(terms("password"), 5)[0][0] == 1
