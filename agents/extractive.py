"""Answers made of the passages' own sentences: the offline path of the generation agent.

1. The passages are read as units (``agents.segments``): sentences, list items and table
   rows, each under its heading; headings themselves are never part of an answer.
2. Each unit is scored for the question: the share of the question's terms it holds,
   each weighted by how rare it is among the passages' units (a term no passage has
   weighs most), a term found only in the unit's heading or the passage's title counting
   half; a question that asks for an amount, a time or a date ("how much", "when")
   counts for less in a unit that has no number in it. Synonyms and verb forms count as
   the same term ("money back" and "credit", "crash" and "accident": ``agents.thesaurus``),
   and a unit that has the question's words side by side ("lock the bike") gains a little.
   Passages that lack a name the question gives ("VPN"), the kind of thing it asks for
   (the "sports" of "which sports channels"), or any word of a yes/no question ("Can I pay
   by credit card?") speak of something else: every unit scores less.
3. Under ``ANSWERABLE`` the passages do not answer the question: the answer says so and
   cites nothing (``answered`` is false). Otherwise the best unit's passage answers it,
   with its units that share the question's terms (and, for "how do I", the steps of its
   section that lead to it; a unit that goes on from the best, "If not, ..."), and another
   passage adds a unit only for a term the answer still lacks, and only one nearly as
   relevant as the best; whole units, in reading order, within ``max_words``.

A request for a summary of the whole ("Summarize the text.") names nothing to look for:
the units that share the most of the passages' own words stand for the whole.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from agents.segments import units
from agents.spans import answers, short_answer
from agents.thesaurus import normalise, same_terms

# The least relevance (0-1) at which the best unit answers the question; calibrated on
# XQuAD (questions against their own article's paragraphs, and against another's):
# `python -m benchmarks answers --calibrate`.
ANSWERABLE = 0.28
# A unit of the answering passage joins the answer at this share of the best one's score;
# a unit of another passage (for a word the answer lacks) at this share.
ALONGSIDE = 0.34
ELSEWHERE = 0.7
SECTION_WEIGHT = 0.5  # a term only in the unit's heading or passage's title counts half
# The share of a unit's score that its heading earns: in a knowledge base a heading is the
# question its section answers ("Change the e-mail address of your account").
TITLE_SHARE = 0.25
# Passages come best first (retrieval ranked them with the whole collection's statistics):
# each place down costs a unit this share of its score, at most three times over.
RANK_STEP = 0.08
# What a question's term that no unit has weighs beyond its rarity: the passages not
# speaking of it at all ("Evernote") says more than any one unit's silence.
ABSENT = 1.0
# The factor for each name, acronym or number of the question that no passage has.
UNNAMED = 0.7
PAIRED = 0.2  # the most a unit gains for holding the question's words in its order
UNKIND = 0.5  # the factor for each word of the kind asked for that no passage has
# The factor for each other word of a yes/no question that no passage has.
YES_NO_ABSENT = 0.6
UNTYPED = 0.65  # the factor for a unit without the number, time or date the question wants
SPAN_WEIGHT = 0.2  # what a unit's best short answer adds to its score, to choose between units
SIMILAR = 0.6  # word-set overlap above which a unit says nothing new
_DIGIT = re.compile(r"\d")
# A sentence that goes on from the one before it: an answer that has it has that one too.
_CONTINUES = re.compile(
    r"^(?:then|next|after\s+that|afterwards|also|this|these|that|it|they|its|their|there|"
    r"however|but|so|finally|otherwise|if\s+(?:it|not|so))\b",
    re.I,
)
# "How do I ...?" asks for a procedure: its steps before the unit that answers come too.
_PROCEDURE = re.compile(
    r"^\s*how\s+(?:(?:do|can|could|should|must|would)\s+(?:i|we|you)|to)\b", re.I
)
STEPS = 2
_YES_NO = re.compile(
    r"^\s*(?:can|could|do|does|did|is|are|was|were|will|would|should|shall|may|must|has|"
    r"have|am)\b",
    re.I,
)
_GENERIC = re.compile(r"\b(?:summar|overview|gist|main points|key points|tl;?dr)", re.I)
# What a request for a summary says besides its topic ("Summarize the text").
_ABOUT_THE_WHOLE = re.compile(
    r"\b(?:summar\w*|overview|gist|main|key|points?|tl;?dr|give|write|short|brief|text|"
    r"documents?|passages?|dialogues?|conversations?|articles?|say|says)\b",
    re.I,
)
# Question words that say what kind of answer is wanted, not what it is about.
_QUESTION_WORDS = frozenset(
    (  # noqa: SIM905 (a word list reads best as text)
        "much many long often big large old far ever also get got would could can may might "
        "must shall please tell know want wants need needs way ways possible able compare "
        "comparison difference differences versus vs take takes taken make makes happen "
        "happens go goes come comes find found see locate use one anything something everything "
        "nothing"
    ).split()
)
# What kind of answer a question wants, and what a unit that gives one holds.
_MONEY = re.compile(
    r"[$€£¥]|\d\s*(?:%|percent)|\b(?:for\s+free|free\s+of\s+charge|no\s+cost|euros?|dollars?|usd|eur|gbp|pounds?|cents?|"
    r"[\d.,]+\s+(?:a|per)\s+(?:month|year|user))\b",
    re.I,
)
_QUANTITY = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|half|dozen|several|few|many|once|twice|"
    r"unlimited|no)\b",
    re.I,
)
_TIME = re.compile(
    r"\d|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|"
    r"march|april|june|july|august|september|october|november|december|daily|weekly|"
    r"monthly|yearly|annually|hours?|minutes?|days?|weeks?|months?|years?|century|decade|"
    r"morning|evening|night|noon|midnight|once|immediately|instantly|after|before|until|"
    r"within|during|since)\b",
    re.I,
)
_WANTS = [
    (
        re.compile(
            r"\b(?:cost|costs|price|pricing|fee|fees|charge|how\s+much\s+(?:is|are|do|"
            r"does|will|would)\b.*\b(?:pay|cost|charge))",
            re.I,
        ),
        _MONEY,
    ),
    (
        re.compile(
            r"\b(?:when|what\s+(?:time|year|date|day|month)|which\s+(?:year|day|month)|"
            r"how\s+(?:long|soon|often))\b",
            re.I,
        ),
        _TIME,
    ),
    (
        re.compile(r"\bhow\s+(?:much|many|big|large|old|far|fast|high|heavy|small)\b", re.I),
        _QUANTITY,
    ),
]


@dataclass(frozen=True, slots=True)
class Sentence:
    """A unit of a passage that an answer may use."""

    passage: str  # the id of the passage it came from
    position: int  # its place in reading order, over all passages
    text: str
    start: int  # its offsets in the passage's text
    end: int
    section: str  # its heading, else the passage's title


@dataclass(frozen=True, slots=True)
class Extract:
    """An extractive answer: its text, the passages it cites, whether it answers at all."""

    text: str
    citations: list[str]
    answered: bool
    sentences: list[Sentence]  # the best first
    relevance: float  # the best unit's score for the question
    short: str = ""  # the shortest span that answers (``agents.spans``)


def split_sentences(passages: Sequence[tuple[str, str, str]]) -> list[Sentence]:
    """Every unit but headings of ``(id, title, text)`` passages, in reading order."""
    found: list[Sentence] = []
    for passage_id, title, text in passages:
        for unit in units(text):
            if unit.kind != "heading":
                section = unit.section or title
                found.append(
                    Sentence(passage_id, len(found), unit.text, unit.start, unit.end, section)
                )
    return found


class Question:
    """What a question asks about: its terms (stemmed) and the words they came from."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.words: dict[str, str] = {}
        self.share: dict[str, float] = {}  # "U-Bahn" is one word of two terms, each half
        self.names: set[str] = set()  # terms of names, acronyms and numbers: "VPN", "Android"
        # The kind of thing a "which" or "what" question asks for ("which sports channels
        # are"): the words before the last of that phrase are kinds of the last.
        self.modifiers: dict[str, set[str]] = {}
        focus: list[set[str]] | None = None
        asked = normalise(text)
        for place, match in enumerate(re.finditer(r"[\w'-]+|[^\w\s]", asked)):
            word = match.group()
            found = set() if word.lower() in _QUESTION_WORDS else _terms(word)
            for term in found:
                self.words.setdefault(term, word)
                self.share.setdefault(term, 1 / len(found))
                if (place and word[0].isupper()) or word[1:].isupper() or _DIGIT.search(word):
                    self.names.add(term)
            if focus is not None and found and not word.lower().endswith("'s"):
                focus.append(found)
                continue
            if focus and 2 <= len(focus) <= 3:
                for kind in focus[:-1]:
                    for term in kind:
                        self.modifiers[term] = focus[-1]
            focus = [] if word.lower() in {"which", "what"} else None
        self.terms = frozenset(self.words)
        order = [t for word in re.findall(r"[\w'-]+", asked) for t in _sequence(word)]
        self.pairs = {
            (a, b) for a, b in pairwise(order) if a != b and a in self.terms and b in self.terms
        }
        self.wants = next((kind for asks, kind in _WANTS if asks.search(text)), None)
        self.yes_no = bool(_YES_NO.match(text))


class Scorer:
    """Scores units for a question, with term weights from the units at hand."""

    def __init__(self, question: Question, sentences: Sequence[Sentence]) -> None:
        self.question = question
        ranks = {p: rank for rank, p in enumerate(dict.fromkeys(s.passage for s in sentences))}
        self.prior = [max(1 - RANK_STEP * ranks[s.passage], 1 - 3 * RANK_STEP) for s in sentences]
        self.own = [_terms(s.text) for s in sentences]
        # Words of the question side by side in a unit ("lock the bike"), as a share of
        # the question's pairs.
        self.paired = [_paired(question.pairs, s.text) for s in sentences]
        self.context = [_terms(s.section) for s in sentences]
        frequency = Counter(term for bag in self.own for term in bag & question.terms)
        n = len(sentences)
        self.weights = {
            term: question.share[term]
            * (math.log((n + 1) / (frequency[term] + 0.5)) + 1.0 + ABSENT * (not frequency[term]))
            for term in question.terms
        }
        self.total = sum(self.weights.values())
        # A name the question gives that no passage has: they speak of something else; so
        # do passages that have "channels" but not the "sports" of "sports channels".
        present = set().union(*self.own, *self.context)
        absent = question.terms - present
        unnamed = {question.words[t] for t in absent if t in question.names}
        unkind = {question.words[t] for t in absent if question.modifiers.get(t, set()) & present}
        unkind -= unnamed
        if question.yes_no:  # "Can I pay by credit card?" asks about every word of it
            others = {question.words[t] for t in absent} - unkind
            self.named = UNKIND ** len(unkind) * YES_NO_ABSENT ** len(others)
        else:
            self.named = UNNAMED ** len(unnamed) * UNKIND ** len(unkind)

    def score(self, index: int, sentence: Sentence) -> float:
        if not self.total:
            return 0.0
        own, context = self.own[index], self.context[index]
        held = sum(
            weight * (1.0 if term in own else SECTION_WEIGHT if term in context else 0.0)
            for term, weight in self.weights.items()
        )
        titled = sum(weight for term, weight in self.weights.items() if term in context)
        value = (1 - TITLE_SHARE) * held / self.total + TITLE_SHARE * titled / self.total
        if self.question.wants and not self.question.wants.search(sentence.text):
            value *= UNTYPED
        value *= 1 + PAIRED * self.paired[index]
        return min(value, 1.0) * self.prior[index] * self.named

    def missing(self) -> list[str]:
        """The question's words that no unit holds, as the question wrote them."""
        present = set().union(*self.own, *self.context) if self.own else set()
        words = [word for term, word in self.question.words.items() if term not in present]
        return list(dict.fromkeys(words))


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
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i), default=None)
    if best is None or scores[best] < ANSWERABLE:
        relevance = scores[best] if best is not None else 0.0
        return Extract(_abstention(instruction, scorer.missing()), [], False, [], relevance)
    chosen = _choose(sentences, scores, best, scorer, max_words)
    short = _short(instruction, chosen, scores)
    return Extract(_compose(chosen), _cited(chosen), True, chosen, scores[best], short)


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
    best: int,
    scorer: Scorer,
    max_words: int,
) -> list[Sentence]:
    """The best unit and those that answer beside it, each with the units it goes on from."""
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
            if scores[index] < ALONGSIDE * scores[best] and not adds:
                continue
        elif not adds or scores[index] < max(ANSWERABLE, ELSEWHERE * scores[best]):
            continue
        if any(_overlap(scorer.own[index], scorer.own[other]) > SIMILAR for other in chosen):
            continue
        steps = STEPS if index == best and _PROCEDURE.match(scorer.question.text) else 0
        group = [i for i in _with_antecedents(sentences, index, steps) if i not in chosen]
        if index == best and _goes_on(sentences, index):
            group.append(index + 1)  # "If it is not, you may cancel": the other case
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


def _terms(text: str) -> set[str]:
    """The content terms of ``text``, synonyms and verb forms as one (``agents.thesaurus``)."""
    from agents.bm25 import content_terms

    return same_terms(content_terms(normalise(text)))


def _sequence(text: str) -> list[str]:
    """The index terms of ``text`` in order, synonyms and verb forms as one."""
    from agents.bm25 import terms

    return [next(iter(same_terms({t}))) for t in terms(normalise(text))]


def _paired(pairs: set[tuple[str, str]], text: str) -> float:
    if not pairs:
        return 0.0
    order = _sequence(text)
    return len(pairs & set(pairwise(order))) / len(pairs)


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
