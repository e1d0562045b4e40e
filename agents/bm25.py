"""BM25 ranking on ``bm25s``, with English stopwords and Snowball stemming (PyStemmer).

The only module that imports ``bm25s`` and ``Stemmer`` (and, with ``agents.dense``,
``numpy``), so that the rest of celeriac starts without them (about 0.1 s) until a
collection is built or searched.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer

STOPWORDS = "en"
STEMMER = "english"  # Snowball's English stemmer (Porter2)

_local = threading.local()


def _stemmer() -> Any:
    # A PyStemmer instance keeps state between calls and must not be shared by threads.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer(STEMMER)
    return stemmer


@cache
def _unaccented() -> dict[int, str]:
    """Latin letters with accents -> the letters without ("é" -> "e", "Ø" stays)."""
    table = {}
    for point in range(0xC0, 0x250):
        base = unicodedata.normalize("NFKD", chr(point))[0]
        if base != chr(point) and base.isascii() and base.isalpha():
            table[point] = base
    return table


_COMPOUND = re.compile(r"\b([^\W\d_]+)-([^\W\d_]+)\b")


def analysed(text: str) -> str:
    """``text`` as the index reads it: accents off Latin letters ("café" finds "cafe"),
    and a hyphenated compound also as one word ("Wi-Fi" finds "wifi", "e-mail" "email").

    >>> analysed("Wi-Fi in the café")
    'Wi-Fi WiFi in the cafe'
    """
    return _COMPOUND.sub(r"\1-\2 \1\2", text.translate(_unaccented()))


def terms(text: str) -> list[str]:
    """The index terms of ``text``: lowercased words, stopwords dropped, stemmed.

    >>> terms("Resetting the passwords")
    ['reset', 'password']
    """
    tokens = bm25s.tokenize(
        [analysed(text)],
        stopwords=STOPWORDS,
        stemmer=_stemmer(),
        return_ids=False,
        show_progress=False,
    )
    return [str(term) for term in tokens[0]]


def stemmed_words(text: str) -> list[str]:
    """Every word of ``text``, lowercased and stemmed, in order (no stopword is dropped).

    >>> stemmed_words("The links worked")
    ['the', 'link', 'work']
    """
    tokens = bm25s.tokenize(
        [text], stopwords=None, stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return [str(term) for term in tokens[0]]


def content_terms(text: str) -> set[str]:
    """The words of ``text`` that carry content, stemmed: ``terms`` less a longer list of
    English function words ("how", "do", "which"...), for comparing texts by meaning.

    >>> sorted(content_terms("How do I reset my passwords?"))
    ['password', 'reset']
    """
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    tokens = bm25s.tokenize(
        [analysed(text)],
        stopwords=list(STOPWORDS_EN_PLUS),
        stemmer=_stemmer(),
        return_ids=False,
        show_progress=False,
    )
    return {str(term) for term in tokens[0]}


class Bm25Index:
    """A BM25 index over documents numbered 0..n-1. Searching is thread-safe."""

    def __init__(self, retriever: Any) -> None:
        self._retriever = retriever

    @classmethod
    def build(cls, texts: Sequence[str]) -> Bm25Index:
        """Index ``texts``; raise ``ValueError`` when none of them has a single term."""
        tokenized = bm25s.tokenize(
            [analysed(text) for text in texts],
            stopwords=STOPWORDS,
            stemmer=_stemmer(),
            show_progress=False,
        )
        if not any(tokenized.ids):
            # bm25s cannot index a corpus without terms (it divides by the mean length).
            raise ValueError("no document has a searchable word (only stopwords or punctuation)")
        retriever = bm25s.BM25()
        retriever.index(tokenized, show_progress=False)
        return cls(retriever)

    @classmethod
    def load(cls, directory: Path) -> Bm25Index:
        return cls(bm25s.BM25.load(str(directory), show_progress=False))

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory), show_progress=False)

    @property
    def size(self) -> int:
        """How many documents are indexed."""
        return int(self._retriever.scores["num_docs"])

    def search(self, query_terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The ``k`` best documents for ``query_terms`` as (number, score), best first.

        Only documents that share a term with the query are returned, so there may be
        fewer than ``k``; equal scores keep document order.
        """
        ids = self._retriever.get_tokens_ids(list(query_terms))
        if not ids or k < 1:
            return []
        scores: npt.NDArray[np.float32] = self._retriever.get_scores_from_ids(ids)
        return top_k(scores, k)


def top_k(scores: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
    """Positions and values of the ``k`` largest positive ``scores``, largest first.

    Unlike ``bm25s.BM25.retrieve`` this allows k above the number of documents, leaves
    out documents scored 0 and breaks ties by position, so results are reproducible.
    """
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > k:
        kth_best = np.partition(scores[candidates], -k)[-k]
        candidates = candidates[scores[candidates] >= kth_best]
    order = np.lexsort((candidates, -scores[candidates]))[:k]
    return [(int(i), float(scores[i])) for i in candidates[order]]
