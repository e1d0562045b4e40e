"""Query-focused extractive summaries: the offline path of the generation agent.

Sentences of the given passages are ranked by BM25 against the instruction (a
request for a summary of the whole, against the passages' own words), picked best
first while they add something new (near-duplicates are dropped), then put back
in reading order, citing the passages they came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# A sentence ends at . ! ? (perhaps with a closing quote or bracket) before a space and a
# capital or digit, or at a line break; abbreviations like "e.g. this" stay together.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[A-Z0-9\"'(\[])|\s*\n\s*")
SIMILAR = 0.6  # word-set overlap above which a sentence says nothing new
_GENERIC = re.compile(r"\b(?:summar|overview|gist|main points|key points|tl;?dr)", re.I)


@dataclass(frozen=True, slots=True)
class Sentence:
    passage: str  # the id of the passage it came from
    position: int  # its place in reading order
    text: str


def split_sentences(passages: Sequence[tuple[str, str]]) -> list[Sentence]:
    """Every sentence of ``(id, text)`` passages, in reading order."""
    sentences: list[Sentence] = []
    for passage_id, text in passages:
        for part in _SENTENCE_END.split(text):
            part = part.strip().lstrip("#").strip()  # a Markdown heading reads as a sentence
            if part:
                sentences.append(Sentence(passage_id, len(sentences), part))
    return sentences


def _as_sentence(text: str) -> str:
    """Headings and list items get a full stop once they run on into other sentences."""
    return text if text[-1] in ".!?:;\"')]…" else text + "."


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def summarize(
    instruction: str, passages: Sequence[tuple[str, str]], max_words: int
) -> tuple[str, list[str]]:
    """The best sentences for ``instruction`` within ``max_words``, and their passages' ids.

    Returns ``("", [])`` when no sentence shares a word with the instruction, unless the
    instruction asks for a summary of the whole ("Summarize the text.").
    """
    from agents.bm25 import Bm25Index, terms  # numpy and bm25s only where steps run

    sentences = split_sentences(passages)
    searchable = [s for s in sentences if terms(s.text)]
    if not searchable:
        return "", []
    bm25 = Bm25Index.build([s.text for s in searchable])
    ranked = bm25.search(terms(instruction), len(searchable))
    if not ranked and _GENERIC.search(instruction):
        # "Summarize the text" names nothing to look for: the sentences that share the
        # most of the passages' own words stand for the whole.
        everything = [term for s in searchable for term in terms(s.text)]
        ranked = bm25.search(everything, len(searchable))
    chosen: list[Sentence] = []
    chosen_terms: list[set[str]] = []
    words = 0
    for index, _score in ranked:
        sentence = searchable[index]
        bag = set(terms(sentence.text))
        length = len(sentence.text.split())
        if any(_overlap(bag, other) > SIMILAR for other in chosen_terms):
            continue
        if chosen and words + length > max_words:
            continue
        chosen.append(sentence)
        chosen_terms.append(bag)
        words += length
        if words >= max_words:
            break
    chosen.sort(key=lambda s: s.position)
    text = " ".join(_as_sentence(s.text) for s in chosen)
    if words > max_words:  # a single best sentence longer than the limit
        text = " ".join(text.split()[:max_words]) + " …"
    citations = list(dict.fromkeys(s.passage for s in chosen))
    return text, citations
