"""The shortest part of a sentence that answers a question: the offline short answer.

A sentence that answers a question repeats some of its words and adds the answer beside
them. So the sentence is cut, at punctuation and at the question's own words, into
runs of new words; the run wanted is the one of the kind the question asks for (an
amount, a time, a name), nearest the question's words, and short.

>>> short_answer("When did the museum open?", "The museum opened in 1852, after a fire.")
'1852'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"[$€£]?\w(?:[\w'\u2019%]|[.,:](?=\d))*%?|[^\w\s]")
_BREAK = frozenset(',;:()[]"“”«»—!?\u2013')
_EDGE = frozenset(
    (  # noqa: SIM905 (a word list reads best as text)
        "a an the of and or in on at to by for from with as is are was were be been being "
        "that which who whom whose this these those it its their his her there than then "
        "also into onto over under about after before during while when where since until"
    ).split()
)
_DIGIT = re.compile(r"\d")
_NUMBERS = (
    r"[$€£]?\d.*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundreds?|thousands?|millions?|billions?|half|dozens?"
)
_WORDS = {
    "time": re.compile(
        rf"^(?:{_NUMBERS}|january|february|march|april|may|june|july|august|september|"
        r"october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
        r"century|centuries|decades?|years?|months?|weeks?|days?|hours?|minutes?)$",
        re.I,
    ),
    "quantity": re.compile(rf"^(?:{_NUMBERS})$", re.I),
}
_WANTS = [
    (
        re.compile(
            r"\b(?:when|what\s+(?:year|date|day|month|century|decade)|which\s+(?:year|"
            r"century|decade)|how\s+long)\b",
            re.I,
        ),
        "time",
    ),
    (
        re.compile(
            r"\bhow\s+(?:much|many|big|large|old|far|fast|high|often)|what\s+"
            r"(?:percentage|amount|number|price)\b",
            re.I,
        ),
        "quantity",
    ),
    (re.compile(r"\b(?:who|whom|whose|which|where|what)\b", re.I), "name"),
]


@dataclass(frozen=True, slots=True)
class _Run:
    start: int  # offsets in the sentence
    end: int
    words: list[str]
    first: int  # token index of its first word
    last: int


def short_answer(question: str, sentence: str) -> str:
    """The run of ``sentence`` that answers ``question``, or the sentence when none stands out."""
    from agents.bm25 import stemmed_words

    asked = set(stemmed_words(question))
    tokens = list(_TOKEN.finditer(sentence))
    stems = [stemmed_words(t.group()) for t in tokens]
    echoes = [
        i for i, stem in enumerate(stems) if stem and stem[0] in asked and _content(tokens[i])
    ]
    runs = _runs(tokens, stems, asked)
    if not runs or not echoes:
        return sentence
    kind = next((k for pattern, k in _WANTS if pattern.search(question)), None)

    def rank(run: _Run) -> float:
        distance = min(min(abs(run.first - e), abs(run.last - e)) for e in echoes)
        score = -0.12 * distance - 0.04 * max(len(run.words) - 3, 0)
        if kind in _WORDS and any(_WORDS[kind].match(w) for w in run.words):
            score += 2.0
        elif kind == "name" and _capitals(run, tokens):
            score += 1.0
        return score

    best = max(runs, key=rank)
    if kind in _WORDS:
        best = _around_number(best, tokens, _WORDS[kind]) or best
    elif kind == "name":
        best = _capitals(best, tokens) or best
    return sentence[best.start : best.end]


def _capitals(run: _Run, tokens: list[re.Match[str]]) -> _Run | None:
    """The run's first name: capitalized words (not the sentence's first), "of" between."""
    named = [i for i in range(max(run.first, 1), run.last + 1) if tokens[i].group()[0].isupper()]
    if not named:
        return None
    first = last = named[0]
    while last + 1 <= run.last and (
        tokens[last + 1].group()[0].isupper()
        or (tokens[last + 1].group() in {"of", "de", "the"} and last + 2 in named)
    ):
        last += 1
    words = [tokens[i].group() for i in range(first, last + 1)]
    return _Run(tokens[first].start(), tokens[last].end(), words, first, last)


def _content(token: re.Match[str]) -> bool:
    return token.group().lower() not in _EDGE and token.group()[0].isalnum()


def _runs(tokens: list[re.Match[str]], stems: list[list[str]], asked: set[str]) -> list[_Run]:
    """Maximal runs of tokens that neither break the sentence nor echo the question."""
    runs: list[_Run] = []
    current: list[int] = []

    def close() -> None:
        while current and tokens[current[-1]].group().lower() in _EDGE:
            current.pop()
        while current and tokens[current[0]].group().lower() in _EDGE:
            current.pop(0)
        if current and any(_content(tokens[i]) for i in current):
            words = [tokens[i].group() for i in current]
            runs.append(
                _Run(
                    tokens[current[0]].start(),
                    tokens[current[-1]].end(),
                    words,
                    current[0],
                    current[-1],
                )
            )
        current.clear()

    for index, token in enumerate(tokens):
        text = token.group()
        echo = bool(stems[index]) and stems[index][0] in asked and _content(token)
        if text in _BREAK or echo or (text == "." and index == len(tokens) - 1):
            close()
        else:
            current.append(index)
    close()
    return runs


def _around_number(run: _Run, tokens: list[re.Match[str]], wanted: re.Pattern[str]) -> _Run | None:
    """The wanted words of ``run`` with what qualifies them: "10 MB", "February 7, 2016"."""
    indexes = [i for i in range(run.first, run.last + 1) if wanted.match(tokens[i].group())]
    if not indexes:
        return None
    first = last = indexes[0]
    for index in indexes[1:]:  # the first cluster: "3rd of every month", not "... five days"
        if index - last > 2:
            break
        last = index
    follower = tokens[last + 1].group() if last + 1 <= run.last else ""
    if follower[:1].isalpha() and follower.lower() not in _EDGE:
        last += 1  # the unit: "10 MB", "24 interceptions"
    words = [tokens[i].group() for i in range(first, last + 1)]
    return _Run(tokens[first].start(), tokens[last].end(), words, first, last)
