"""How well a unit of a passage answers a question: the relevance that the offline
answerer (``agents.extractive``) and the answer-relevance score rank units by.

Each unit is scored for the question: the share of the question's terms it holds, each
weighted by how rare it is among the passages' units (a term no passage has weighs most),
a term found only in the unit's heading or the passage's title counting half; a question
that asks for an amount, a time or a date ("how much", "when") counts for less in a unit
that has no number in it. Synonyms and verb forms count as the same term ("money back"
and "credit", "crash" and "accident": ``agents.thesaurus``), so does a word the question
misspelt that no unit has and one has nearly ("pasword"), and a unit that has the
question's words side by side ("lock the bike") gains a little, and so does a table
row whose first cell the question names ("Same Day" for "same day delivery"). Passages
that lack a name the question gives ("VPN"), the kind of thing it asks for (the "sports"
of "which sports channels"), or any word of a yes/no question ("Can I pay by credit
card?") speak of something else: every unit scores less.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from agents import ranges
from agents.segments import units
from agents.thesaurus import normalise, same_terms

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
# What a table row gains whose first cell the question names ("same day", "an extra
# 5gb"): of a table's rows, which share the rest of the question's words alike (every
# row of "Service; Extra cost"), it is the one asked about.
KEYED = 0.15
UNKIND = 0.5  # the factor for each word of the kind asked for that no passage has
# The factor for each other word of a yes/no question that no passage has.
YES_NO_ABSENT = 0.6
# The shortest term no unit has that may be taken for a slip of a word one has.
MISSPELT_LENGTH = 5
# The shortest such term that may lack a letter inside it, not only a doubled one.
LEFT_OUT_LENGTH = 6
UNTYPED = 0.65  # the factor for a unit without the number, time or date the question wants
_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_YES_NO = re.compile(
    r"^\s*(?:can|could|do|does|did|is|are|was|were|will|would|should|shall|may|must|has|"
    r"have|am)\b",
    re.I,
)
# Question words that say what kind of answer is wanted, not what it is about.
_QUESTION_WORDS = frozenset(
    (  # noqa: SIM905 (a word list reads best as text)
        "much many long often big large old far ever also get got would could can may might "
        "must shall please tell know want wants need needs way ways possible able compare "
        "comparison difference differences versus vs take takes taken make makes happen "
        "happens go goes come comes find found see locate use one anything something everything "
        "nothing ive im dont cant wont doesnt isnt arent didnt whats thats theres youre wheres "
        "hows someone somebody anyone anybody everyone everybody going gonna like hi hello hey "
        "thanks thank without still getting gets "
        # Superlatives say which of several is wanted (``agents.superlatives``), not what.
        "fastest quickest slowest cheapest priciest dearest longest shortest biggest largest "
        "smallest expensive"
    ).split()
)
# Words that tell the question's circumstances, not its topic: when it happened ("last
# night", "right now"). (Who it is for is no such word: "can my neighbour take it"
# asks about the neighbour.) One that no passage has leaves the question:
# the passages not saying "yesterday" is no sign that they do not answer. One a passage
# has counts as any other term ("open on Sunday").
_CIRCUMSTANCES = frozenset(
    (  # noqa: SIM905 (a word list reads best as text)
        "yesterday today tonight tomorrow morning afternoon evening night nights weekend "
        "week weeks wk wks fortnight month months year years ago last next earlier later "
        "now currently recently soon asap right moment"
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
    kind: str = "sentence"  # or "item" of a list, or "row" of a table
    key: str = ""  # a row's first cell ("Same Day")


def side_by_side(sentences: Sequence[Sentence], index: int) -> list[int]:
    """Unit ``index`` and the units of its kind next to it in its section: the items of
    its list, the rows of its table."""

    def together(other: int) -> bool:
        return (
            0 <= other < len(sentences)
            and sentences[other].kind == sentences[index].kind
            and sentences[other].passage == sentences[index].passage
            and sentences[other].section == sentences[index].section
        )

    first, last = index, index
    while together(first - 1):
        first -= 1
    while together(last + 1):
        last += 1
    return list(range(first, last + 1))


def split_sentences(passages: Sequence[tuple[str, str, str]]) -> list[Sentence]:
    """Every unit but headings of ``(id, title, text)`` passages, in reading order."""
    found: list[Sentence] = []
    for passage_id, title, text in passages:
        for unit in units(text):
            if unit.kind != "heading":
                section = unit.section or title
                found.append(
                    Sentence(
                        passage_id,
                        len(found),
                        unit.text,
                        unit.start,
                        unit.end,
                        section,
                        unit.kind,
                        unit.key,
                    )
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


# A number written together with its unit or an ordinal's ending ("8kg", "5gb", "11pm",
# "the 30th") is the number and the unit, on either side: a page may write "8 kg", "11 pm"
# or "the 30". A one-letter unit stays ("5G" is no weight).
_GLUED = re.compile(
    r"\b(\d+(?:\.\d+)?)(?:(st|nd|rd|th)|("
    + "|".join(sorted((m for m in ranges.MEASURES if m.isalpha() and len(m) > 1), key=len)[::-1])
    + r"|am|pm)(s?))\b",
    re.I,
)


def _unglued(text: str) -> str:
    return _GLUED.sub(lambda m: m[1] if m[2] else f"{m[1]} {m[3]}{m[4]}", text)


class Scorer:
    """Scores units for a question, with term weights from the units at hand."""

    def __init__(self, question: Question, sentences: Sequence[Sentence]) -> None:
        self.question = question
        ranks = {p: rank for rank, p in enumerate(dict.fromkeys(s.passage for s in sentences))}
        self.prior = [max(1 - RANK_STEP * ranks[s.passage], 1 - 3 * RANK_STEP) for s in sentences]
        self.own = [_terms(s.text) for s in sentences]
        self.context = [_terms(s.section) for s in sentences]
        # A unit that holds a word the question misspelt ("pasword") holds the question's.
        fixes = _misspelt(question, set().union(*self.own, *self.context))
        for bag in (*self.own, *self.context):
            bag |= {typo for typo, right in fixes.items() if right in bag}
        numbers = _numbers(question, sentences, self.own)  # "21-22" holds "I'm 22"
        self.present = present = set().union(*self.own, *self.context)
        self.aside = {
            t for t in question.terms - present if question.words[t].lower() in _CIRCUMSTANCES
        }
        asked = (question.terms - self.aside) | numbers
        # Words of the question side by side in a unit ("lock the bike"), as a share of
        # the question's pairs.
        self.paired = [_paired(question.pairs, s.text) for s in sentences]
        written = set(_NUMBER.findall(_unglued(question.text)))  # the numbers as typed
        self.keyed = [1 + KEYED * _names_key(question, written, s) for s in sentences]
        frequency = Counter(term for bag in self.own for term in bag & asked)
        n = len(sentences)
        self.weights = {
            term: question.share.get(term, 1.0)
            * (math.log((n + 1) / (frequency[term] + 0.5)) + 1.0 + ABSENT * (not frequency[term]))
            for term in asked
        }
        self.total = sum(self.weights.values())
        # A name the question gives that no passage has: they speak of something else; so
        # do passages that have "channels" but not the "sports" of "sports channels".
        absent = question.terms - present - self.aside
        unnamed = {question.words[t] for t in absent if t in question.names}
        unkind = {question.words[t] for t in absent if question.modifiers.get(t, set()) & present}
        unkind -= unnamed
        # Passages without a name or a kind the question gives, or without a word of a
        # yes/no question, speak of something else, whatever else they share with it: this
        # factor weighs similarity in meaning too (``agents.meaning``): "Is there a student
        # discount?" is close in meaning to a page of prices that has no such discount.
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
        value *= (1 + PAIRED * self.paired[index]) * self.keyed[index]
        return min(value, 1.0) * self.prior[index] * self.named

    def missing(self) -> list[str]:
        """The question's words that no unit holds, as the question wrote them."""
        held = self.present | self.aside
        words = [word for term, word in self.question.words.items() if term not in held]
        return list(dict.fromkeys(re.sub(r"['\u2019]s$", "", word) for word in words))


def _names_key(question: Question, numbers: set[str], sentence: Sentence) -> bool:
    """Whether ``sentence`` is a table row whose first cell, but for what it says in
    brackets ("Child (4 to 15)"), the question names: each of its terms, and each of its
    numbers among the question's ``numbers``."""
    if sentence.kind != "row":
        return False
    key = re.sub(r"\([^)]*\)", " ", sentence.key)
    terms = _terms(key)
    return bool(terms) and terms <= question.terms and set(_NUMBER.findall(key)) <= numbers


def _misspelt(question: Question, present: set[str]) -> dict[str, str]:
    """The question's terms that no unit has but one has a word of which they are a common
    slip: a doubled letter typed once ("pasword", "adress"), two neighbours swapped
    ("recieve"), a letter inside a longer word left out ("intrest"). Names and short words
    are left as they are. A word one letter off in another way is often another word
    ("rider" and "ride", "sport" and "port")."""
    fixes = {}
    for term in question.terms - present:
        if len(term) < MISSPELT_LENGTH or term in question.names:
            continue
        for word in sorted(present - question.terms):
            if _slip(term, word):
                fixes[term] = word
                break
    return fixes


def _numbers(question: Question, sentences: Sequence[Sentence], own: list[set[str]]) -> set[str]:
    """Adds the question's numbers to the bags of the units that hold them, as themselves
    or in a band ("21-22", "3 to 5 miles", "under $12": ``agents.ranges``), and returns
    the terms for those of them that are no term of the question (one digit, "$9")."""
    asked = ranges.numbers(question.text)
    if not asked:
        return set()
    extra = set()
    for bag, sentence in zip(own, sentences, strict=True):
        for written in ranges.held(asked, sentence.text):
            terms = _terms(written) & question.terms or {f"#{written}"}
            bag |= terms
            extra |= terms - question.terms
    return extra


def _slip(typed: str, word: str) -> bool:
    if len(word) == len(typed) + 1:
        inside = len(typed) >= LEFT_OUT_LENGTH
        return any(
            (word[i] == word[i + 1] or (inside and 0 < i < len(typed)))
            and word[:i] + word[i + 1 :] == typed
            for i in range(len(word) - 1)
        )
    if len(word) != len(typed):
        return False
    apart = [i for i, (a, b) in enumerate(zip(typed, word, strict=True)) if a != b]
    return (
        len(apart) == 2
        and apart[1] == apart[0] + 1
        and (typed[apart[0]], typed[apart[1]]) == (word[apart[1]], word[apart[0]])
    )


def _terms(text: str) -> set[str]:
    """The content terms of ``text``, synonyms and verb forms as one (``agents.thesaurus``)."""
    from agents.bm25 import content_terms

    return same_terms(content_terms(normalise(_unglued(text))))


def _sequence(text: str) -> list[str]:
    """The index terms of ``text`` in order, synonyms and verb forms as one."""
    from agents.bm25 import terms

    return [next(iter(same_terms({t}))) for t in terms(normalise(_unglued(text)))]


def _paired(pairs: set[tuple[str, str]], text: str) -> float:
    if not pairs:
        return 0.0
    order = _sequence(text)
    return len(pairs & set(pairwise(order))) / len(pairs)
