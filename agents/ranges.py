"""Numbers a question gives that a unit's range holds: "I'm 22" and the row "21-22", "about
4 miles away" and "3 to 5 miles", "my basket is only $9" and "under $12", "my grandad is
83" and "80 and over".

A customer gives their own number (an age, a distance, an amount); a help page gives
the bands it falls in. Matching words alone, the band never holds the question's number,
so the row that answers scores no better than its neighbours. ``held`` tells which of a
question's numbers a unit holds, as itself or inside a band, where the two measure the
same thing: a sum of money only against money, miles only against miles (a number
without a unit, like an age, against any but money).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# The words after a number that say what it measures (plural "s" aside).
MEASURES = frozenset(
    (  # noqa: SIM905 (a word list reads best as text)
        "mile km kilometre kilometer metre meter m cm kg g lb pound year yr month week wk day "
        "night hour hr minute min second sec gb mb tb kb mbps gbps people person seat user "
        "passenger guest item bag piece page device ride trip order %"
    ).split()
)
_CURRENCY = "$€£¥"
_MONEY_WORDS = frozenset(["dollar", "euro", "cent", "usd", "eur", "gbp"])
_APART = frozenset(("money", "%"))  # kinds that a bare number never is


def _number(n: str, first: bool = True) -> str:
    """A number (its currency, value and unit as groups ending in ``n``), not a piece of
    a phone number, a date or a time ("1-888-555-0193", "9:00"); unless ``first``, it
    may follow a dash (the "22" of "21-22")."""
    return (
        rf"(?P<cur{n}>[{_CURRENCY}])?\s?"
        + (r"(?<![\d.,:-])" if first else "")
        + rf"(?P<num{n}>\d{{1,3}}(?:,\d{{3}})+(?!\d)|\d+(?:\.\d+)?)(?![\d:])"
        rf"(?:\s?(?P<unit{n}>%|[a-z]+))?"
    )


_BELOW = (
    r"under|below|less\s+than|fewer\s+than|up\s+to|at\s+most|no\s+more\s+than|"
    r"maximum(?:\s+of)?"
)
_ABOVE = r"over|above|more\s+than|at\s+least|minimum(?:\s+of)?"
_BANDS = re.compile(
    rf"(?P<between>(?:\bbetween\s+)?{_number('a')}\s?(?P<to>-|\u2013|\u2014|to|and)\s?"
    rf"{_number('b', first=False)}(?!-\d))"
    rf"|(?P<below>\b(?:{_BELOW})\s+{_number('c')})"
    rf"|(?P<above>\b(?:{_ABOVE})\s+{_number('d')})"
    rf"|(?P<upward>{_number('e')}\s?(?:\+|(?:and|or)\s+(?:over|above|more|older|up)\b))"
    rf"|{_number('f')}(?!-\d)",
    re.I,
)
_QUESTION_NUMBER = re.compile(_number("q"), re.I)


@dataclass(frozen=True, slots=True)
class Band:
    """The numbers from ``low`` to ``high`` (each end held or not), of one kind."""

    low: float
    high: float
    kind: str | None  # "money", a measure ("mile"), or None: a bare number
    closed: bool = True  # whether ``low`` and ``high`` themselves are in it

    def holds(self, value: float, kind: str | None) -> bool:
        if not _alike(self.kind, kind):
            return False
        if self.closed:
            return self.low <= value <= self.high
        return self.low < value < self.high


def numbers(text: str) -> list[tuple[str, float, str | None]]:
    """The numbers ``text`` gives, each as written (digits only), its value and its kind."""
    return [
        (match["numq"], _value(match, "q"), _kind(match, "q"))
        for match in _QUESTION_NUMBER.finditer(text)
    ]


def bands(text: str) -> list[Band]:
    """Every number and range of numbers in ``text``, each as a band."""
    found = []
    for match in _BANDS.finditer(text):
        if match["between"]:
            low, high = _value(match, "a"), _value(match, "b")
            kind = _kind(match, "b") or _kind(match, "a")
            if low < high and (match["to"] != "and" or match.group().lower().startswith("b")):
                found.append(Band(low, high, kind))
            else:  # "10 and 20 kg": two numbers
                found += [Band(low, low, _kind(match, "a")), Band(high, high, _kind(match, "b"))]
        elif match["below"]:
            below = match.group().split()[0].lower() in {"under", "below", "less", "fewer"}
            found.append(Band(-math.inf, _value(match, "c"), _kind(match, "c"), not below))
        elif match["above"]:
            above = match.group().split()[0].lower() in {"over", "above", "more"}
            found.append(Band(_value(match, "d"), math.inf, _kind(match, "d"), not above))
        elif match["upward"]:
            found.append(Band(_value(match, "e"), math.inf, _kind(match, "e")))
        else:
            value = _value(match, "f")
            found.append(Band(value, value, _kind(match, "f")))
    return found


def held(asked: list[tuple[str, float, str | None]], text: str) -> set[str]:
    """Which of the question's numbers (``numbers`` of it) ``text`` holds, as written."""
    if not asked:
        return set()
    found = bands(text)
    return {written for written, value, kind in asked if any(b.holds(value, kind) for b in found)}


def _value(match: re.Match[str], n: str) -> float:
    return float(match[f"num{n}"].replace(",", ""))


def _kind(match: re.Match[str], n: str) -> str | None:
    if match[f"cur{n}"]:
        return "money"
    unit = (match[f"unit{n}"] or "").lower()
    unit = unit[:-1] if unit.endswith("s") and len(unit) > 2 else unit
    if unit in _MONEY_WORDS:
        return "money"
    return unit if unit in MEASURES else None


def _alike(one: str | None, other: str | None) -> bool:
    """Whether two numbers measure the same: equal kinds, or a bare number and a measure
    (an age and "years"), not a sum of money or a share."""
    if one == other:
        return True
    return (one is None and other not in _APART) or (other is None and one not in _APART)
