"""Answers made of the passages' own sentences: the offline path of the generation agent.

1. The passages are read as units (``agents.segments``): sentences, list items and table
   rows, each under its heading; headings themselves are never part of an answer.
2. Each unit is scored for the question (``agents.relevance``): by the share of the
   question's terms it holds, the rare ones weighing more, synonyms counting as one.
   With the dense extra, each score is blended with the unit's similarity in meaning to
   the question (``agents.meaning``), which has its own threshold.
3. Under ``ANSWERABLE`` the passages do not answer the question: the answer says so and
   cites nothing (``answered`` is false).
4. The best unit's passage answers, with its units that share the question's terms (and,
   for "how do I", the steps of its section that lead to it; a unit that goes on from the
   best, "If not, ..."), and another passage adds a unit only for a term the answer still
   lacks, and only one nearly as relevant as the best; whole units, in reading order,
   within ``max_words``.

A request for a summary of the whole ("Summarize the text.") names nothing to look for:
the units that share the most of the passages' own words stand for the whole.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from agents import meaning, superlatives
from agents.relevance import Question, Scorer, Sentence, side_by_side, split_sentences
from agents.spans import answers, short_answer

# The units and their scoring live in agents.relevance; callers may take them from here.
__all__ = [
    "ANSWERABLE",
    "Extract",
    "Question",
    "Scorer",
    "Sentence",
    "answer",
    "split_sentences",
]

# The least relevance (0-1) at which the best unit answers the question; calibrated on
# XQuAD (questions against their own article's paragraphs, and against another's):
# `celeriac eval relevance --articles 0:12` reports the best threshold there.
ANSWERABLE = 0.28
# A unit of the answering passage joins the answer at this share of the best one's score;
# a unit of another passage (for a word the answer lacks) at this share.
ALONGSIDE = 0.34
ELSEWHERE = 0.9
# A question of two parts ("How much is it, and how do I cancel?", "Compare exporting with
# sharing") may find its second part in another passage: there a unit of another passage
# joins at this share.
ELSEWHERE_FOR_A_PART = 0.7
_TWO_PARTS = re.compile(
    r"\?.*\S.*\?|\b(?:and|also|plus)\s+(?:how|what|when|where|which|who|why|can|could|do|does|"
    r"is|are|will)\b|\b(?:compare|comparing|comparison|versus|vs|differences?\s+between)\b",
    re.I | re.S,
)
SPAN_WEIGHT = 0.2  # what a unit's best short answer adds to its score, to choose between units
SIMILAR = 0.6  # word-set overlap above which a unit says nothing new
# A sentence that goes on from the one before it: an answer that has it has that one too.
_CONTINUES = re.compile(
    r"^(?:then|next|after\s+that|afterwards|also|this|these|that|it|they|its|their|there|"
    r"however|but|so|finally|otherwise|if\s+(?:it|not|so))\b",
    re.I,
)
# "How do I ...?" asks for a procedure: its steps before the unit that answers come too,
# and where that unit is an item of a list, the whole list.
_PROCEDURE = re.compile(
    r"\bhow\s+(?:(?:do|can|could|should|must|would|am|are|is)\s+(?:i|we|you)|to)\b", re.I
)
STEPS = 2
_GENERIC = re.compile(r"\b(?:summar|overview|gist|main points|key points|tl;?dr)", re.I)
# What a request for a summary says besides its topic ("Summarize the text").
_ABOUT_THE_WHOLE = re.compile(
    r"\b(?:summar\w*|overview|gist|main|key|points?|tl;?dr|give|write|short|brief|text|"
    r"documents?|passages?|dialogues?|conversations?|articles?|say|says)\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Extract:
    """An extractive answer: its text, the passages it cites, whether it answers at all."""

    text: str
    citations: list[str]
    answered: bool
    sentences: list[Sentence]  # the best first
    relevance: float  # the best unit's score for the question
    short: str = ""  # the shortest span that answers (``agents.spans``)


def answer(instruction: str, passages: Sequence[tuple[str, str, str]], max_words: int) -> Extract:
    """The passages' answer to ``instruction``, or an abstention when they have none."""
    sentences = split_sentences(passages)
    question = Question(instruction)
    if _GENERIC.search(instruction):
        question = Question(_ABOUT_THE_WHOLE.sub(" ", instruction))
        if not question.terms:
            return _summary(sentences, max_words)
    scorer = Scorer(question, sentences)
    scores = [scorer.score(i, s) for i, s in enumerate(sentences)]
    by_meaning = meaning.blended(instruction, sentences, scorer, scores, ANSWERABLE)
    scores = by_meaning or scores
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i), default=None)
    if best is None or scores[best] < ANSWERABLE:
        relevance = scores[best] if best is not None else 0.0
        return Extract(_abstention(instruction, scorer.missing()), [], False, [], relevance)
    scores, best = superlatives.rescored(instruction, sentences, scores, best)  # "fastest"
    alongside = ALONGSIDE if by_meaning is None else meaning.ALONGSIDE
    elsewhere = ELSEWHERE_FOR_A_PART if _TWO_PARTS.search(instruction) else ELSEWHERE
    chosen = _choose(sentences, scores, (alongside, elsewhere), best, scorer, max_words)
    short = (
        "" if _without_short_answer(instruction, question) else _short(instruction, chosen, scores)
    )
    return Extract(_compose(chosen), _cited(chosen), True, chosen, scores[best], short)


def _without_short_answer(instruction: str, question: Question) -> bool:
    """Whether a question has no short answer to cut from a sentence: "How do I ...?" asks
    for steps, "Can I ...?" for a yes or a no that the sentence gives in other words ("Turn
    it on in Settings"); a span of either reads as nonsense ("protects your account")."""
    return question.yes_no or bool(_PROCEDURE.search(instruction))


def _short(instruction: str, chosen: Sequence[Sentence], scores: Sequence[float]) -> str:
    """The short answer from the answer's units: the best unit's, unless another holds a
    much likelier one (the number asked for, a name beside the question's words)."""
    found = [
        (scores[s.position] + SPAN_WEIGHT * ranked[0][0], ranked[0][1])
        for s in chosen
        if (ranked := answers(instruction, s.text))
    ]
    return max(found, key=lambda f: f[0])[1] if found else short_answer(instruction, chosen[0].text)


def _choose(
    sentences: Sequence[Sentence],
    scores: Sequence[float],
    shares: tuple[float, float],
    best: int,
    scorer: Scorer,
    max_words: int,
) -> list[Sentence]:
    """The best unit and those that answer beside it (of its passage, at the first of
    ``shares`` of its score; of another, for a term it lacks, at the second), each with the
    units it goes on from."""
    alongside, elsewhere = shares
    home = sentences[best].passage
    covered: set[str] = set()
    chosen: list[int] = []
    words = 0
    for index in sorted(range(len(sentences)), key=lambda i: (-scores[i], i)):
        if index in chosen or scores[index] <= 0:
            continue
        adds = (scorer.own[index] & scorer.question.terms) - covered
        if index == best:
            pass
        elif sentences[index].passage == home:
            if scores[index] < alongside * scores[best] and not adds:
                continue
        elif not adds or scores[index] < max(ANSWERABLE, elsewhere * scores[best]):
            continue
        if any(_overlap(scorer.own[index], scorer.own[other]) > SIMILAR for other in chosen):
            continue
        group = [i for i in _group(sentences, index, index == best, scorer) if i not in chosen]
        length = sum(len(sentences[i].text.split()) for i in group)
        if words + length > max_words and len(group) > 1:
            group, length = [index], len(sentences[index].text.split())
        if chosen and words + length > max_words:
            continue
        chosen += group
        for i in group:
            covered |= scorer.own[i] | scorer.context[i]
        words += length
    best_first = sorted(chosen, key=lambda i: i != best)
    return [sentences[i] for i in best_first]


def _group(sentences: Sequence[Sentence], index: int, best: bool, scorer: Scorer) -> list[int]:
    """Unit ``index`` with the units that come with it: a list it leads into ("To renew
    online:"); the units it goes on from; where a procedure is asked for, the whole list
    an item of it is in, and for the best, the steps before it; for the best, the unit
    that goes on from it ("If it is not, you may cancel": the other case)."""
    procedure = bool(_PROCEDURE.search(scorer.question.text))
    if _leads(sentences, index):
        return _list_of(sentences, index + 1)
    if procedure and sentences[index].kind == "item":
        return _list_of(sentences, index)
    group = _with_antecedents(sentences, index, STEPS if procedure and best else 0)
    if best and _goes_on(sentences, index):
        group.append(index + 1)
    return group


def _leads(sentences: Sequence[Sentence], index: int) -> bool:
    """True if unit ``index`` leads into the list after it ("Dial meters:")."""
    after = index + 1
    return (
        sentences[index].text.endswith(":")
        and after < len(sentences)
        and sentences[after].kind == "item"
        and sentences[after].passage == sentences[index].passage
        and sentences[after].section == sentences[index].section
    )


def _list_of(sentences: Sequence[Sentence], index: int) -> list[int]:
    """The items of the list that item ``index`` is in (those side by side with it in its
    section), with the sentence that leads into the list ("To read the meter:")."""
    items = side_by_side(sentences, index)
    first, last = items[0], items[-1]
    lead = first - 1
    if lead >= 0 and sentences[lead].passage == sentences[index].passage:
        first -= sentences[lead].text.endswith(":")
    return list(range(first, last + 1))


def _with_antecedents(sentences: Sequence[Sentence], index: int, steps: int = 0) -> list[int]:
    """``index`` and the units before it that it goes on from ("Then connect the cable"),
    or, for ``steps`` > 0, up to that many units of its section before it: the steps of a
    procedure that lead to it."""
    group = [index]
    while (
        group[0] > 0
        and (_CONTINUES.match(sentences[group[0]].text) or len(group) <= steps)
        and sentences[group[0] - 1].passage == sentences[index].passage
        and sentences[group[0] - 1].section == sentences[index].section
    ):
        group.insert(0, group[0] - 1)
    return group


def _goes_on(sentences: Sequence[Sentence], index: int) -> bool:
    """True if the unit after ``index`` goes on from it, in the same section."""
    after = index + 1
    return (
        after < len(sentences)
        and bool(_CONTINUES.match(sentences[after].text))
        and sentences[after].passage == sentences[index].passage
        and sentences[after].section == sentences[index].section
    )


def _compose(chosen: Sequence[Sentence]) -> str:
    """The chosen units in reading order, the answering passage first."""
    first = chosen[0].passage
    ordered = sorted(chosen, key=lambda s: (s.passage != first, s.position))
    return " ".join(_as_sentence(s.text) for s in ordered)


def _cited(chosen: Sequence[Sentence]) -> list[str]:
    return list(dict.fromkeys(s.passage for s in chosen))


def _abstention(instruction: str, missing: Sequence[str]) -> str:
    asked = " ".join(instruction.split())
    text = f'The documents do not answer this: "{asked}"'
    text += "" if asked[-1] in ".!?" else "."
    if missing:
        named = ", ".join(f'"{word}"' for word in missing[:3])
        text += f" They do not mention {named}."
    return text


def _summary(sentences: Sequence[Sentence], max_words: int) -> Extract:
    """The units that share the most of the passages' own words, in reading order."""
    from agents.bm25 import content_terms

    bags = [content_terms(s.text) for s in sentences]
    frequency = Counter(term for bag in bags for term in bag)
    centrality = [sum(frequency[t] - 1 for t in bag) / (len(bag) or 1) for bag in bags]
    chosen: list[int] = []
    words = 0
    for index in sorted(range(len(sentences)), key=lambda i: (-centrality[i], i)):
        if not bags[index] or any(_overlap(bags[index], bags[i]) > SIMILAR for i in chosen):
            continue
        length = len(sentences[index].text.split())
        if chosen and words + length > max_words:
            continue
        chosen.append(index)
        words += length
    picked = [sentences[i] for i in sorted(chosen)]
    text = " ".join(_as_sentence(s.text) for s in picked)
    return Extract(text, _cited(picked), bool(picked), picked, 1.0 if picked else 0.0)


def _as_sentence(text: str) -> str:
    """List items and table rows get a full stop once they run on into other sentences."""
    return text if text[-1] in ".!?:;\"')]…" else text + "."


def _overlap(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0
