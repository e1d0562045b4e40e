"""The support bar of issue 14, in process: ``python -m benchmarks.answer_bar FILE ...``.

For each question of SQuAD 2.0 files whose paragraphs are whole help pages (those under
benchmarks/data), or of a directory of pages with its questions beside it (tests/data/kb),
the three pages retrieval ranks best are given to the offline answerer, as ``celeriac run
"QUESTION" --docs DIR`` does: by words and meaning fused with the dense extra, by BM25
without it or with ``--bm25``. An answerable question meets the bar when the answer cites
exactly its page, holds the answer's text (a table row's cells, each), and has at most 80
words; an unanswerable one when the answer abstains and cites nothing. Prints each
file's count and, with ``--show``, every question that misses.

``--calibrate`` tries blends of words and meaning (``agents.meaning``: WEIGHT, ANSWERS,
ALONGSIDE; needs the dense extra) on the files given and prints the best (most questions
met, then fewest words): run it on development sets only, and measure the held-out sets
once afterwards.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agents import dense, meaning
from agents.bm25 import Bm25Index
from agents.collections import searchable
from agents.documents import Document, read_documents
from agents.extractive import Extract, answer
from agents.retrieval import FUSION_DEPTH, fuse, query_terms

MAX_WORDS = 80
# An item of a list in a fact: its marker ("1.", "-", "*") and its text, up to the next.
_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*+])\s+(.+?)(?=\n\s*(?:\d+[.)]|[-*+])\s|\Z)", re.M | re.S)
PAGES = 3
HYBRID = True  # with the dense extra, as the plan's "auto" retrieval searches


@dataclass(frozen=True)
class Case:
    question: str
    page: str | None  # None: unanswerable
    facts: list[str]


@dataclass(frozen=True)
class KnowledgeBase:
    name: str
    pages: list[Document]
    cases: list[Case]


def load(path: Path) -> KnowledgeBase:
    """A SQuAD 2.0 file, or a directory of pages with its questions beside it in
    DIR-questions.json (as tests/data/kb)."""
    if path.is_dir():
        return _directory(path)
    articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    pages, cases = [], []
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(article["paragraphs"]):
            page = f"{a}-{p}"
            pages.append(Document(page, article.get("title", ""), paragraph["context"]))
            for qa in paragraph["qas"]:
                facts = [x["text"] for x in qa["answers"]]
                cases.append(Case(qa["question"], page if facts else None, facts))
    return KnowledgeBase(path.stem, pages, cases)


def _directory(path: Path) -> KnowledgeBase:
    questions = json.loads(path.with_name(f"{path.name}-questions.json").read_text())
    cases = [Case(q["question"], q["document"], [q["fact"]]) for q in questions["answerable"]]
    cases += [Case(question, None, []) for question in questions["unanswerable"]]
    return KnowledgeBase(path.name, read_documents([path]).documents, cases)


def _present(fact: str, text: str) -> bool:
    """Whether ``fact`` is in ``text``, whitespace aside; a table row's cells each; a
    list's items each, in order (an answer gives an item's text, not its "1." or "-")."""
    if fact.strip().startswith("|"):
        cells = [c for c in (" ".join(c.split()) for c in fact.strip().strip("|").split("|")) if c]
        return all(cell in text for cell in cells)
    items = [" ".join(m[1].split()) for m in _ITEM.finditer(fact)]
    if items and _ITEM.match(fact.strip()):
        found = [text.find(item) for item in items]
        return -1 not in found and found == sorted(found)
    return " ".join(fact.split()) in text


@dataclass(frozen=True)
class Search:
    """A knowledge base's pages made searchable once: BM25 and, where hybrid, their
    embeddings (None by words alone)."""

    index: Bm25Index
    vectors: dense.Vectors | None

    @classmethod
    def of(cls, kb: KnowledgeBase) -> Search:
        texts = [searchable(d) for d in kb.pages]
        vectors = dense.encode(texts) if HYBRID and dense.available() else None
        return cls(Bm25Index.build(texts), vectors)


def _pages(kb: KnowledgeBase, search: Search, question: str) -> list[Document]:
    """The pages that retrieval gives the answerer: BM25 and similarity in meaning fused,
    as the retrieval agent's ``auto`` mode does with the dense extra, else BM25's best."""
    if search.vectors is None:
        return [kb.pages[n] for n, _ in search.index.search(query_terms(question), PAGES)]
    similar = dense.rank(search.vectors, dense.encode([question])[0], FUSION_DEPTH)
    keywords = search.index.search(query_terms(question), FUSION_DEPTH)
    ranked = fuse([[i for i, _ in keywords], [i for i, _ in similar]], PAGES)
    return [kb.pages[n] for n, _ in ranked]


def miss(kb: KnowledgeBase, search: Search, case: Case) -> tuple[str | None, int]:
    """Why the answer to ``case`` misses the bar (None when it meets it), and its words."""
    found = _pages(kb, search, case.question)
    extract = answer(case.question, [(d.id, d.title, d.text) for d in found], MAX_WORDS)
    text = " ".join(extract.text.split())
    return _why(case, extract, found, text), len(text.split())


def _why(case: Case, extract: Extract, found: Sequence[Document], text: str) -> str | None:
    if case.page is None:
        return None if not extract.answered and not extract.citations else f"answered: {text}"
    if not extract.answered:
        ranked = [d.id for d in found]
        where = "its page not among the pages" if case.page not in ranked else "its page given"
        return f"abstained ({where}): {text}"
    if extract.citations != [case.page]:
        return f"cites {extract.citations}, not {case.page}: {text}"
    if not any(_present(fact, text) for fact in case.facts):
        return f"lacks {case.facts[0]!r}: {text}"
    return f"{len(text.split())} words" if len(text.split()) > MAX_WORDS else None


def measure(kbs: Sequence[KnowledgeBase], show: bool = False) -> tuple[int, int]:
    """How many questions meet the bar, and the words of all answers."""
    met = words = 0
    for kb in kbs:
        search = Search.of(kb)
        passed = 0
        for case in kb.cases:
            why, said = miss(kb, search, case)
            words += said
            passed += why is None
            if why is not None and show:
                print(f"  {kb.name}: {case.question}\n    {why[:300]}")
        print(f"{kb.name}: {passed} of {len(kb.cases)}")
        met += passed
    return met, words


def calibrate(kbs: Sequence[KnowledgeBase]) -> None:
    dense.require()
    dense.encode = lambda texts: _encode(tuple(texts))  # the same texts, every round
    results = []
    grid = itertools.product(
        [0.5, 0.6, 0.7, 0.8], [n / 100 for n in range(32, 48, 2)], [0.34, 0.5, 0.6, 0.7, 0.8]
    )
    for values in grid:
        meaning.WEIGHT, meaning.ANSWERS, meaning.ALONGSIDE = values
        print(f"WEIGHT, ANSWERS, ALONGSIDE = {values}")
        met, words = measure(kbs)
        results.append((met, -words, values))
    results.sort(reverse=True)
    print("best (met, -words, (WEIGHT, ANSWERS, ALONGSIDE)):")
    for result in results[:10]:
        print(f"  {result}")


_plain_encode = dense.encode


@functools.cache
def _encode(texts: tuple[str, ...]) -> dense.Vectors:
    return _plain_encode(list(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--show", action="store_true", help="print each question that misses")
    parser.add_argument("--calibrate", action="store_true", help="search WEIGHT and ANSWERS")
    parser.add_argument("--bm25", action="store_true", help="retrieve by words alone")
    args = parser.parse_args()
    global HYBRID
    HYBRID = not args.bm25
    kbs = [load(path) for path in args.files]
    if args.calibrate:
        calibrate(kbs)
    else:
        met, words = measure(kbs, args.show)
        cases = sum(len(kb.cases) for kb in kbs)
        print(f"all: {met} of {cases}, {words / cases:.1f} words an answer")


if __name__ == "__main__":
    main()
