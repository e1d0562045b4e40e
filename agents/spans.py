"""The shortest part of a sentence that answers a question: the offline short answer.

A sentence that answers a question repeats some of its words and adds the answer beside
them. So the sentence is cut, at punctuation and at the question's own words, into runs
of new words, and each run into candidates: names (capitalised words, "Robert Lane and
Benjamin Vail"), numbers with their unit ("17 seconds", "February 7, 2016"), phrases
between function words, and the whole run. A candidate scores for

- its nearness to each of the question's words that the sentence repeats (the names of
  the question count most), so the answer sits where the question's words do;
- being of the kind the question asks for: a number for "how many", a date for "when",
  a name for "who", a place for "where", the whole clause after "by" for "how do I";
- what stands around it: a quoted term, the word after "known as" or "called";

and loses a little for each word past three. Calibrated on XQuAD articles 0-11, and
checked on articles 12-23 (`celeriac eval qa --articles 12:24`; README, "Evaluation").

>>> short_answer("When did the museum open?", "The museum opened in 1852, after a fire.")
'1852'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

_TOKEN = re.compile(r"[$€£]?\w(?:[\w'\u2019%]|[-\u2013](?=\w)|[.,:](?=\d))*%?|[^\w\s]")
_BREAK = frozenset(',;:()[]"“”«»—!?\u2013')
_EDGE = frozenset(
    (  # noqa: SIM905 (a word list reads best as text)
        "a an the of and or in on at to by for from with as is are was were be been being "
        "that which who whom whose this these those it its their his her there than then "
        "also into onto over under about after before during while when where since until "
        "he she they we you i has have had not but such both either neither each other "
        "can could would should will may might must do does did so if although though "
        "because however most more many some any all only very within without between "
        "through against among upon via"
    ).split()
)
_JOINS = frozenset("of de du da von van der la le del the & y".split())  # noqa: SIM905
_NUMBERS = (
    r"[$€£]?\d.*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|half|"
    r"dozens?|first|second|third|fourth|fifth"
)
_MONTHS = r"january|february|march|april|may|june|july|august|september|october|november|december"
_WORDS = {
    "time": re.compile(
        rf"^(?:{_NUMBERS}|{_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
        r"century|centuries|decades?|years?|months?|weeks?|days?|hours?|minutes?|seconds?)$",
        re.I,
    ),
    "quantity": re.compile(rf"^(?:{_NUMBERS})$", re.I),
}
_LEADS = re.compile(rf"^(?:{_MONTHS}|about|around|over)$", re.I)  # "about 60 km"
_YEAR = re.compile(r"^(?:1[0-9]|20)\d\d(?:s)?$")
_WANTS = [
    (
        re.compile(
            r"\b(?:when|what\s+(?:year|date|day|month|century|decade|time)|which\s+(?:year|"
            r"century|decade)|how\s+(?:long|early|soon|late)|in\s+what\s+year)\b",
            re.I,
        ),
        "time",
    ),
    (
        re.compile(
            r"\bhow\s+(?:much|many|big|large|old|far|fast|high|often|tall|wide|deep|heavy)|"
            r"what\s+(?:percentage|percent|amount|number|price|proportion|fraction|size|"
            r"population)\b|\bpopulation\b|\b(?:what|how\s+much)\b.*\b(?:fee|fees|cost|"
            r"costs|price|charge|charged)\b",
            re.I,
        ),
        "quantity",
    ),
    (re.compile(r"\b(?:who|whom|whose)\b", re.I), "person"),
    (re.compile(r"^\s*how\s+(?:do|does|did|can|could|should|would|to|is|are)\b", re.I), "manner"),
    (re.compile(r"\bwhere\b", re.I), "place"),
    (
        re.compile(
            r"\b(?:which|what)\s+(?!(?:is|are|was|were|do|does|did|has|have|had|can|could|"
            r"would|will|should|kind|type|sort|way|other|else|else)\b)[a-z]+\b",
            re.I,
        ),
        "thing",
    ),
    (re.compile(r"\b(?:which|what)\b", re.I), "name"),
]
REACH = 5.0  # how many tokens away a question's word counts half
NAME_WEIGHT = 1.5  # a name of the question ("Josh Norman") places the answer more than a word
LENGTH_COST = 0.03
KIND_BONUS = {"time": 2.0, "quantity": 2.0, "person": 1.5, "place": 1.0, "thing": 0.8, "name": 0.0}
NUMBER_COST = {"person": 0.5, "place": 0.5, "thing": 0.5, "name": 0.1}  # where none is wanted
QUOTED = 0.3  # a quoted phrase, a title or a term: "mad scientist"
NAMED = 0.5  # what follows "known as", "called", "named"
VERBAL = 0.3  # the cost of a lone word that is likely a verb or adverb: "performed", "directly"
CLAUSE_COST = 1.0  # a whole run as the answer, where the question asks for no manner
MANNER = 0.5  # a "how do I" question's answer after "by": "by holding the power button"
YEAR = 0.3  # a year, for a question that asks when
_PLACE = re.compile(r"^(?:in|on|at|under|near|inside|behind|beside|from|into|outside)$", re.I)
_MEANS = re.compile(r"^(?:by|using|via|with)$", re.I)
_QUOTES = frozenset({'"', "\u201c", "'"})
_NAMING = re.compile(r"^(?:as|called|named|termed|titled|dubbed)$", re.I)
_VERBAL = re.compile(r"^[a-z]+(?:ed|ing|ly)$")


@dataclass(frozen=True, slots=True)
class _Span:
    first: int  # token indexes, inclusive
    last: int
    kind: str  # "number", "name", "phrase" or "clause" (a whole run)


def short_answer(question: str, sentence: str) -> str:
    """The part of ``sentence`` that answers ``question``, or the sentence when none stands out."""
    ranked = answers(question, sentence)
    return ranked[0][1] if ranked else sentence


def answers(question: str, sentence: str) -> list[tuple[float, str]]:
    """The candidate answers in ``sentence`` to ``question`` with their scores, best first;
    none when the sentence does not echo the question."""
    from agents.bm25 import stemmed_words

    asked = set(stemmed_words(question))
    named = {
        stem
        for place, word in enumerate(re.findall(r"[\w'-]+", question))
        if place and word[0].isupper()
        for stem in stemmed_words(word)
    }
    tokens = list(_TOKEN.finditer(sentence))
    words = [t.group() for t in tokens]
    echoes: dict[str, list[int]] = {}
    for index, word in enumerate(words):
        stem = stemmed_words(word)
        if stem and stem[0] in asked and _content(word):
            echoes.setdefault(stem[0], []).append(index)
    if not echoes:
        return []
    runs = _runs(words, {i for places in echoes.values() for i in places})
    kind = next((k for pattern, k in _WANTS if pattern.search(question)), None)
    weights = {stem: NAME_WEIGHT if stem in named else 1.0 for stem in echoes}
    total = sum(weights.values())

    def rank(span: _Span) -> float:
        near = 0.0
        for stem, places in echoes.items():
            distance = min(min(abs(span.first - p), abs(span.last - p)) for p in places)
            near += weights[stem] / (1 + (distance - 1) / REACH)
        score = near / total
        long = max(span.last - span.first - 2, 0) if span.kind != "name" else 0
        score += _fits(kind, span, words) - LENGTH_COST * long
        return score

    ranked = []
    spans = dict.fromkeys(span for run in runs for span in _candidates(words, run))
    for span in spans:
        found = sentence[tokens[span.first].start() : tokens[span.last].end()]
        if span.kind == "name":
            found = re.sub(r"['\u2019]s$", "", found)
        ranked.append((rank(span), found, span))
    # Equal scores: the earlier, then the longer ("Ada Byron and Tom Wells", not "Ada Byron").
    ranked.sort(key=lambda r: (-r[0], r[2].first, r[2].first - r[2].last))
    return [(score, found) for score, found, _ in ranked]


def _fits(kind: str | None, span: _Span, words: list[str]) -> float:
    """How well ``span`` is of the kind the question asks for, and placed as answers are."""
    inside = words[span.first : span.last + 1]
    if kind in _WORDS:
        if span.kind != "number":
            return 0.0
        year = kind == "time" and any(_YEAR.match(w) for w in inside)
        return KIND_BONUS[kind] + YEAR * year
    before = _before(words, span.first)
    bonus = _placed(span, words, before)
    if span.kind == "clause":
        if kind != "manner" or span.last - span.first < 2:
            return bonus - CLAUSE_COST
        return bonus + MANNER * bool(_MEANS.match(before))
    if kind == "place" and _PLACE.match(before):
        bonus += KIND_BONUS["place"]
    if kind in NUMBER_COST:
        if span.kind == "number":
            return bonus - NUMBER_COST[kind]
        return bonus + KIND_BONUS[kind] * (span.kind == "name")
    return bonus


def _placed(span: _Span, words: list[str], before: str) -> float:
    """What the words around ``span`` say of it: quoted, named ("known as"), a lone verb."""
    bonus = 0.0
    if span.first > 0 and words[span.first - 1] in _QUOTES:
        bonus += QUOTED
    if _NAMING.match(before):
        bonus += NAMED
    if span.first == span.last and _VERBAL.match(words[span.first]):
        bonus -= VERBAL
    return bonus


def _before(words: list[str], index: int) -> str:
    """The word before ``index``, articles skipped: "known as a guru" -> "as"."""
    index -= 1
    while index >= 0 and words[index].lower() in {"a", "an", "the"}:
        index -= 1
    return words[index] if index >= 0 else ""


def _content(word: str) -> bool:
    return word.lower() not in _EDGE and word[0].isalnum()


def _runs(words: list[str], echoes: set[int]) -> list[tuple[int, int]]:
    """Maximal runs of tokens that neither break the sentence nor echo the question."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for index, word in enumerate([*words, "."]):
        breaks = (
            index == len(words)
            or index in echoes
            or (word in _BREAK and not _joins_date(words, index))
            or (word == "." and index == len(words) - 1)
        )
        if breaks:
            if start is not None:
                runs.append((start, index - 1))
            start = None
        elif start is None:
            start = index
    return runs


def _joins_date(words: list[str], index: int) -> bool:
    """A comma inside a date, "February 7, 2016", does not break it."""
    return (
        words[index] == ","
        and 0 < index < len(words) - 1
        and words[index - 1].isdigit()
        and bool(_YEAR.match(words[index + 1]))
    )


def _candidates(words: list[str], run: tuple[int, int]) -> list[_Span]:
    """The run's names, numbers and phrases, each trimmed of function words."""
    first, last = run
    found: list[_Span] = []
    phrase: list[int] = []
    for index in range(first, last + 2):
        if index > last or words[index].lower() in _EDGE or not words[index][0].isalnum():
            if phrase:
                found.append(_Span(phrase[0], phrase[-1], "phrase"))
            phrase = []
        else:
            phrase.append(index)
    # A phrase of a phrase: "unit of magnetic flux density".
    joined = [
        _Span(a.first, b.last, "phrase")
        for a, b in pairwise(found)
        if b.first - a.last == 2 and words[a.last + 1].lower() == "of"
    ]
    found += joined
    found += _names(words, first, last)
    found += _numbers(words, first, last)
    found.append(_Span(first, last, "clause"))
    trimmed = [_trim(words, span) for span in found]
    return [span for span in trimmed if span is not None]


def _trim(words: list[str], span: _Span) -> _Span | None:
    first, last = span.first, span.last
    while first <= last and (words[first].lower() in _EDGE or not words[first][0].isalnum()):
        first += 1
    while last >= first and (words[last].lower() in _EDGE or not words[last][0].isalnum()):
        last -= 1
    if first > last:
        return None
    return _Span(first, last, span.kind)


def _names(words: list[str], first: int, last: int) -> list[_Span]:
    """Capitalised words, "of" or "de" between them: "Bank of England", "Lady Gaga"."""
    found: list[_Span] = []
    index = first
    while index <= last:
        if not _capital(words, index):
            index += 1
            continue
        end = index
        while end + 1 <= last and (
            _capital(words, end + 1)
            or (words[end + 1].lower() in _JOINS and end + 2 <= last and _capital(words, end + 2))
        ):
            end += 1
        found.append(_Span(index, end, "name"))
        index = end + 1
    # Two names joined: "Robert Lane and Benjamin Vail".
    found += [
        _Span(a.first, b.last, "name")
        for a, b in pairwise(found)
        if b.first - a.last == 2 and words[a.last + 1].lower() == "and"
    ]
    return found


def _capital(words: list[str], index: int) -> bool:
    word = words[index]
    after_name = word[0].isdigit() and index > 0 and words[index - 1][0].isupper()
    if not (word[0].isupper() or after_name):  # "Super Bowl 50"
        return False
    # The sentence's first word is capitalised anyway: a name only if a name goes on.
    if index == 0 or (index > 0 and words[index - 1] in {'"', "(", "\u201c"}):
        return word.lower() not in _common() and len(words) > 1 and words[1][:1].isupper()
    return word.lower() not in _EDGE


def _common() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS) | _EDGE | {"despite", "following", "according"}


def _numbers(words: list[str], first: int, last: int) -> list[_Span]:
    """Numbers with what qualifies them: "17 seconds", "February 7, 2016", "56.2%"."""
    found: list[_Span] = []
    index = first
    wanted = _WORDS["time"]
    while index <= last:
        if not (wanted.match(words[index]) and _numeric(words[index])):
            index += 1
            continue
        start = end = index
        while end + 1 <= last and (
            wanted.match(words[end + 1]) or (words[end + 1] == "," and _joins_date(words, end + 1))
        ):
            end += 1
        while start - 1 >= first and _LEADS.match(words[start - 1]):
            start -= 1
        follower = words[end + 1] if end + 1 <= last else ""
        if follower[:1].isalpha() and follower.lower() not in _EDGE:
            end += 1  # the unit: "10 MB", "24 interceptions"
        found.append(_Span(start, end, "number"))
        index = end + 1
    return found


def _numeric(word: str) -> bool:
    return bool(re.match(rf"^(?:{_NUMBERS})$", word, re.I)) or bool(
        re.match(rf"^(?:{_MONTHS})$", word, re.I)
    )
