"""Dense and hybrid retrieval: embeddings, ranking, fusion, and the errors without them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import agents.dense
from agents import dense
from agents.base import StepContext
from agents.collections import EMBEDDINGS, current_version, load_collection, write_collection
from agents.documents import Document
from agents.errors import CollectionError, PermanentError
from agents.retrieval import RRF_K, Retrieval, RetrievalInput, RetrievalOutput, fuse
from tests.support.helpers import needs_dense

KB = [
    Document("reset", "Reset a password", "Reset a forgotten password with the email link."),
    Document("billing", "Billing", "Invoices are sent monthly by email."),
    Document("rules", "Password rules", "Passwords need twelve characters."),
    Document("router", "Router", "Resetting the router fixes connection problems."),
    Document("pets", "Pets", "A kitten sleeps on the sofa all afternoon."),
]


def search(data_dir: Path, query: str, mode: str, k: int = 3) -> RetrievalOutput:
    context = StepContext(job_id="j", step_id="s", attempt=1, agent="retrieval", data_dir=data_dir)
    payload: dict[str, Any] = {"query": query, "collection": "kb", "k": k, "mode": mode}
    return Retrieval().run(RetrievalInput.model_validate(payload), context)


def ids(output: RetrievalOutput) -> list[str]:
    return [hit.id for hit in output.hits]


@pytest.fixture(scope="module")
def dense_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("dense")
    write_collection(data_dir, "kb", KB, embeddings=True)
    return data_dir


@needs_dense
def test_embeddings_are_normalised_float32_rows() -> None:
    vectors = dense.encode(["a kitten naps on the couch", "a young cat sleeps on a sofa", "tax"])
    assert vectors.shape == (3, dense.DIMENSIONS) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    paraphrase, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert paraphrase > 0.6 > unrelated
    assert dense.encode([]).shape == (0, dense.DIMENSIONS)


@needs_dense
def test_the_model_is_loaded_once_and_shared_by_threads() -> None:
    texts = [f"document number {i} about passwords" for i in range(40)]
    expected = dense.encode(texts)
    model = agents.dense._model
    results: list[np.ndarray[Any, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(dense.encode(texts))) for _ in "1234"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(np.allclose(found, expected, atol=1e-5) for found in results)
    assert agents.dense._model is model


@needs_dense
def test_the_collection_stores_the_embeddings_in_its_build(dense_dir: Path) -> None:
    version = current_version(dense_dir, "kb")
    stored = np.load(dense_dir / "collections" / "kb" / str(version) / EMBEDDINGS)
    assert stored.shape == (len(KB), dense.DIMENSIONS) and stored.dtype == np.float32
    collection = load_collection(dense_dir, "kb")
    assert collection.manifest.embeddings == dense.MODEL
    assert collection.embeddings is not None and np.array_equal(collection.embeddings, stored)


@needs_dense
def test_dense_ranking_finds_a_paraphrase_that_bm25_misses(dense_dir: Path) -> None:
    query = "young cat napping on the couch"
    assert search(dense_dir, query, "bm25").hits == []  # no word in common with any document
    found = search(dense_dir, query, "dense")
    assert ids(found)[0] == "pets"
    scores = [hit.score for hit in found.hits]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True) and scores[0] > 0.5
    assert search(dense_dir, "I can't remember my login secret", "dense", k=1).hits[0].id == "reset"


@needs_dense
def test_hybrid_fuses_the_bm25_and_dense_rankings(dense_dir: Path) -> None:
    query = "how do I reset my router"
    keyword = ids(search(dense_dir, query, "bm25", k=5))
    meaning = ids(search(dense_dir, query, "dense", k=5))
    assert keyword != meaning  # otherwise fusion would show nothing
    hybrid = search(dense_dir, query, "hybrid", k=5)
    numbers = {document.id: i for i, document in enumerate(KB)}
    expected = fuse([[numbers[i] for i in keyword], [numbers[i] for i in meaning]], 5)
    assert ids(hybrid) == [KB[i].id for i, _ in expected]
    assert [hit.score for hit in hybrid.hits] == pytest.approx([score for _, score in expected])
    assert hybrid.hits[0].id == "router"


@needs_dense
def test_hybrid_search_needs_no_keyword(dense_dir: Path) -> None:
    # Only stopwords: BM25 alone refuses the query, hybrid ranks by meaning.
    with pytest.raises(PermanentError, match="no searchable words"):
        search(dense_dir, "to be, or not to be?", "bm25")
    hits = search(dense_dir, "to be, or not to be?", "hybrid", k=2).hits
    assert len(hits) == 2 and hits[0].score == pytest.approx(1 / (RRF_K + 1))


@needs_dense
def test_auto_searches_hybrid_where_the_collection_has_embeddings(dense_dir: Path) -> None:
    query = "how do I reset my router"
    hybrid = search(dense_dir, query, "hybrid", k=5)
    assert search(dense_dir, query, "auto", k=5) == hybrid


def test_auto_searches_by_words_without_embeddings_or_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_collection(tmp_path, "kb", KB)  # built without embeddings
    assert search(tmp_path, "password", "auto") == search(tmp_path, "password", "bm25")
    monkeypatch.setattr(agents.dense, "available", lambda: False)
    assert search(tmp_path, "password", "auto") == search(tmp_path, "password", "bm25")


def test_fusion_rewards_documents_both_rankings_agree_on() -> None:
    assert fuse([[3, 1], [1, 2]], 2) == [(1, 1 / 61 + 1 / 62), (3, 1 / 61)]
    # First in one and last in the other beats second in both; ties by document number.
    assert fuse([[0, 1, 2], [2, 1, 0]], 3) == [
        (0, 1 / 61 + 1 / 63),
        (2, 1 / 61 + 1 / 63),
        (1, 2 / 62),
    ]
    assert fuse([[5], [4]], 10) == [(4, 1 / 61), (5, 1 / 61)]  # ties by document number
    assert fuse([[], [2, 0]], 1) == [(2, 1 / 61)]
    assert fuse([[], []], 3) == []


def test_cosine_ranking_takes_the_k_most_similar_in_document_order_on_ties() -> None:
    embeddings = np.array([[1, 0], [0, 1], [0.6, 0.8], [1, 0]], dtype=np.float32)
    query = np.array([1, 0], dtype=np.float32)
    assert dense.rank(embeddings, query, 3) == [(0, 1.0), (3, 1.0), (2, pytest.approx(0.6))]
    assert [i for i, _ in dense.rank(embeddings, query, 10)] == [0, 3, 2, 1]
    assert dense.rank(embeddings, query, 0) == []


def test_without_the_extra_dense_and_hybrid_say_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_collection(tmp_path, "kb", KB)
    monkeypatch.setattr(agents.dense, "available", lambda: False)
    for mode in ("dense", "hybrid"):
        with pytest.raises(PermanentError) as caught:
            search(tmp_path, "password", mode)
        assert str(caught.value) == (
            "dense and hybrid retrieval need the optional extra: pip install 'celeriac[dense]' "
            "(with the CPU build of torch, e.g. `pip install torch==2.13.0` first), "
            'or search with "mode": "bm25"'
        )
    assert ids(search(tmp_path, "password", "bm25"))[0] == "rules"
    with pytest.raises(PermanentError, match=r"pip install 'celeriac\[dense\]'"):
        write_collection(tmp_path, "kb", KB, embeddings=True)
    assert load_collection(tmp_path, "kb").embeddings is None  # the failed build changed nothing


def test_a_collection_built_without_embeddings_says_to_rebuild_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_collection(tmp_path, "kb", KB)
    monkeypatch.setattr(agents.dense, "available", lambda: True)  # the check comes first
    for mode in ("dense", "hybrid"):
        with pytest.raises(CollectionError) as caught:
            search(tmp_path, "password", mode)
        assert str(caught.value) == (
            "collection 'kb' was built without embeddings, so it has no dense or hybrid "
            "search: rebuild it with `celeriac index kb PATH...` where celeriac[dense] is "
            'installed, or search it with "mode": "bm25"'
        )


@needs_dense
def test_damaged_embeddings_say_to_rebuild(tmp_path: Path) -> None:
    write_collection(tmp_path, "kb", KB, embeddings=True)
    stored = tmp_path / "collections" / "kb" / str(current_version(tmp_path, "kb")) / EMBEDDINGS
    np.save(stored, np.zeros((2, dense.DIMENSIONS), dtype=np.float32))
    with pytest.raises(CollectionError, match="not 5 x 384 float32: rebuild the collection"):
        load_collection(tmp_path, "kb")
    stored.unlink()
    with pytest.raises(CollectionError, match=r"is damaged .* rebuild it"):
        load_collection(tmp_path, "kb")


def test_the_mode_is_bm25_unless_asked() -> None:
    assert RetrievalInput(query="x", collection="kb").mode == "bm25"
