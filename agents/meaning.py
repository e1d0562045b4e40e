"""Relevance by meaning, beside relevance by words, with the dense extra.

The answerer (``agents.extractive``) scores units by the question's words they hold
(``agents.relevance``), so a question put in other words than the documents' ("how far in
advance" for "up to six weeks ahead", "I can't remember my password" for "Forgot
password") finds no unit that scores enough, and one that shares a page's words but asks
for something the page does not have ("a maximum rider weight" for the e-bikes) finds one
that scores too much. Where ``celeriac[dense]`` is installed, each unit's score is blended
with its similarity in meaning to the question (all-MiniLM-L6-v2: the cosine of the
question and the unit, read alone or under its heading, whichever is closer), and the
blend decides, at its own threshold. A question whose name or kind of thing the passages
lack ("VPN", the "sports" of "sports channels"), or a yes/no question with a word they
lack ("a student discount"), weighs its similarity down as it does its words; a table
row whose first cell the question names ("same day") weighs it up as it does its words.
Without the extra, nothing here loads torch, and the words alone decide.

``WEIGHT``, ``ANSWERS`` and ``ALONGSIDE`` were chosen by ``python -m benchmarks.answer_bar
--calibrate`` on the tests' knowledge base and the development sets under
benchmarks/data (support, clinic, bikeshare, library, ferry; the best setting that still
abstains on every unanswerable question of the tests), and measured once afterwards on
two sets written by someone who had not seen the answerer (energy, vet): the README has
the figures.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.relevance import Scorer, Sentence

# The share of a unit's blended score that its similarity in meaning makes up.
WEIGHT = 0.6
# The least blended score at which the best unit answers the question.
ANSWERS = 0.43
# A unit of the answering passage joins the answer at this share of the best one's blended
# score. Similarities in meaning lie closer together than shares of words (most units of
# the answering page are somewhat like the question), so the share is higher than by words
# alone: at words' 0.34 nearly every unit of the page joined, up to ``max_words``.
ALONGSIDE = 0.7


def similarities(question: str, sentences: Sequence[Sentence]) -> list[float] | None:
    """Each unit's similarity in meaning to ``question`` (cosine, at most 1), or None
    without the extra. A unit counts as the closer of itself and itself under its heading
    (in a knowledge base the heading often names what the unit is about)."""
    from agents import dense  # numpy here; torch once text is first encoded

    if not sentences or not dense.available():
        return None
    alone = [s.text for s in sentences]
    headed = [f"{s.section}: {s.text}" if s.section else s.text for s in sentences]
    vectors = _encoded([question, *alone, *headed])
    scores = vectors[1:] @ vectors[0]
    n = len(sentences)
    return [float(max(a, h)) for a, h in zip(scores[:n], scores[n:], strict=True)]


_MEMORY = 4096  # texts whose embeddings a process keeps: an answer and its score share them
_memory: OrderedDict[str, Any] = OrderedDict()
_memory_lock = threading.Lock()


def _encoded(texts: list[str]) -> Any:
    """The embeddings of ``texts``, each text encoded once while it is remembered."""
    from agents import dense

    with _memory_lock:
        new = [t for t in dict.fromkeys(texts) if t not in _memory]
    if new:
        vectors = dense.encode(new)
        with _memory_lock:
            for text, vector in zip(new, vectors, strict=True):
                _memory[text] = vector
            while len(_memory) > _MEMORY:
                _memory.popitem(last=False)
    with _memory_lock:
        found = {t: _memory.get(t) for t in texts}
    missing = [t for t, v in found.items() if v is None]  # forgotten meanwhile: rare
    if missing:
        found.update(zip(missing, dense.encode(missing), strict=True))
    import numpy as np

    return np.stack([vector for t in texts if (vector := found[t]) is not None])


def blended(
    question: str,
    sentences: Sequence[Sentence],
    scorer: Scorer,
    words: Sequence[float],
    answerable: float,
) -> list[float] | None:
    """The units' scores by ``words`` blended with meaning, on the words' scale (a blend of
    ``ANSWERS`` scores the words' threshold, ``answerable``), or None without the extra."""
    similar = similarities(question, sentences)
    if similar is None:
        return None
    on_words = answerable / ANSWERS
    return [
        on_words
        * ((1 - WEIGHT) * lexical + WEIGHT * max(meaning, 0.0) * scorer.named * scorer.keyed[i])
        for i, (lexical, meaning) in enumerate(zip(words, similar, strict=True))
    ]
