"""Relevance by meaning: the offline answerer's second opinion, with ``celeriac[dense]``.

The answerer (``agents.extractive``) scores units by the question's words they hold, so a
question in other words than the documents' ("how far in advance" for "up to six weeks
ahead", "I can't remember my password" for "Forgot password") finds no unit that scores
enough, and it would abstain. Where the extra is installed, the unit most similar in
meaning to the question (all-MiniLM-L6-v2, the cosine of the question and the unit, the
unit read alone and under its heading) answers instead when that similarity reaches
``ANSWERS``. Without the extra nothing here is imported beyond this module, and the
answerer decides by words alone.

``ANSWERS`` was set on data the answerer was not measured on afterwards: XQuAD (articles
0-11, a question against its own paragraphs and against its article's others: similarity
alone tells them apart best at 0.70) and the two knowledge bases of the tests (no
unanswerable question there reaches 0.61). `celeriac eval relevance` reports the rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents.relevance import Sentence

# The least similarity at which the unit most like the question answers it.
ANSWERS = 0.65


def similarities(question: str, sentences: Sequence[Sentence]) -> list[float] | None:
    """Each unit's similarity in meaning to ``question`` (cosine, at most 1), or None
    without the extra. A unit counts as the closer of itself and itself under its heading
    (in a knowledge base the heading often names what the unit is about)."""
    from agents import dense  # numpy here; torch once text is first encoded

    if not sentences or not dense.available():
        return None
    query = dense.encode([question])[0]
    alone = dense.encode([s.text for s in sentences]) @ query
    headed = dense.encode([f"{s.section}: {s.text}" if s.section else s.text for s in sentences])
    return [float(max(a, h)) for a, h in zip(alone, headed @ query, strict=True)]
