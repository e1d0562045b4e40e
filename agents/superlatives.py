"""Questions that ask for the extreme row of a table: "how much is your fastest plan?",
"which is the cheapest ticket?".

Words score every row of a plan table about the same (each has a plan, a speed and a
price), so the row that answers is the one whose value is the least or the most in the
column the superlative is about: the price for "cheapest", the speed for "fastest" (or,
where the table has durations instead, the shortest time), a size or count for
"biggest". The extractive answerer (``agents.extractive``) makes that row its best unit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agents.relevance import Sentence, side_by_side

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_FREE = re.compile(r"\b(?:free|included|none|no charge)\b", re.I)
_MONEY = re.compile(r"[$€£¥]|\b(?:euros?|eur|usd|dollars?|pounds?|gbp|cents?)\b|\bfree\b", re.I)
_SPEED = re.compile(r"\d\s*(?:[kmg]bps|[kmg]bit/s|km/h|mph)\b", re.I)
_DURATION = re.compile(r"\d\s*(?:min(?:ute)?s?|hours?|hrs?|h|days?|weeks?|months?|years?)\b", re.I)
_SIZE = re.compile(r"\d")
# What a unit of each kind is worth in the kind's smallest one.
_SCALES = {
    "kbps": 0.001, "kbit": 0.001, "gbps": 1000.0, "gbit": 1000.0,
    "hour": 60.0, "hr": 60.0, "h": 60.0, "day": 1440.0, "week": 10080.0,
    "month": 43800.0, "year": 525600.0,
}  # fmt: skip
_UNIT = re.compile(r"[a-z]+", re.I)
# The least share of the best unit's score at which a row of its passage's table counts
# as where the answer is.
TABLE_SHARE = 0.5

Pick = Callable[[Sequence[float]], float]


@dataclass(frozen=True)
class _Wanted:
    kind: re.Pattern[str]
    pick: Pick


_LOWEST, _HIGHEST = min, max
# Superlatives, and what each asks for, in the order to try: "fastest" is the highest
# speed, or, in a table of times, the shortest.
_SUPERLATIVES: list[tuple[re.Pattern[str], list[_Wanted]]] = [
    (
        re.compile(r"\b(?:cheapest|least\s+expensive|lowest[-\s]priced?|lowest\s+cost)\b", re.I),
        [_Wanted(_MONEY, _LOWEST)],
    ),
    (
        re.compile(r"\b(?:most\s+expensive|priciest|dearest|highest[-\s]priced?)\b", re.I),
        [_Wanted(_MONEY, _HIGHEST)],
    ),
    (
        re.compile(r"\b(?:fastest|quickest)\b", re.I),
        [_Wanted(_SPEED, _HIGHEST), _Wanted(_DURATION, _LOWEST)],
    ),
    (re.compile(r"\bslowest\b", re.I), [_Wanted(_SPEED, _LOWEST), _Wanted(_DURATION, _HIGHEST)]),
    (re.compile(r"\blongest\b", re.I), [_Wanted(_DURATION, _HIGHEST)]),
    (re.compile(r"\bshortest\b", re.I), [_Wanted(_DURATION, _LOWEST)]),
    (re.compile(r"\b(?:biggest|largest)\b", re.I), [_Wanted(_SIZE, _HIGHEST)]),
    (re.compile(r"\bsmallest\b", re.I), [_Wanted(_SIZE, _LOWEST)]),
]


def rescored(
    question: str, sentences: Sequence[Sentence], scores: Sequence[float], best: int
) -> tuple[list[float], int]:
    """``scores`` and the best unit, where a superlative of ``question`` picks a row of
    the best unit's passage's table: that row scores as the best did and is the best, the
    table's other rows score nothing. Else as they were."""
    table = _asked_table(question, sentences, scores, best)
    if table is None:
        return list(scores), best
    row, rows = table
    others = set(rows) - {row}
    top = scores[best]
    return [top if i == row else 0.0 if i in others else v for i, v in enumerate(scores)], row


def _asked_table(
    question: str, sentences: Sequence[Sentence], scores: Sequence[float], best: int
) -> tuple[int, list[int]] | None:
    """The row a superlative of ``question`` asks for, and its table's rows; None when
    there is no superlative, no such table, or no column of the kind it is about."""
    wanted = next((w for asks, w in _SUPERLATIVES if asks.search(question)), None)
    if wanted is None:
        return None
    home = sentences[best].passage
    rows = [
        i
        for i, s in enumerate(sentences)
        if s.passage == home and s.kind == "row" and scores[i] >= TABLE_SHARE * scores[best]
    ]
    if not rows:
        return None
    table = side_by_side(sentences, max(rows, key=lambda i: (scores[i], -i)))
    cells = [_cells(sentences[i].text) for i in table]
    asked = _words(question)
    # The column the question names ("the biggest upload") first, then the others in order.
    columns = sorted(cells[0], key=lambda c: not _words(c) & asked)
    for want in wanted:
        column = next((c for c in columns if _all_of(want.kind, c, cells)), None)
        if column is None:
            continue
        values = [_value(row[column], want.kind) for row in cells]
        known = [v for v in values if v is not None]
        if len(known) < 2:
            continue
        return table[values.index(want.pick(known))], table
    return None


def _words(text: str) -> set[str]:
    return {word.rstrip("s") for word in re.findall(r"[a-z]+", text.lower())}


def _all_of(kind: re.Pattern[str], column: str, rows: Sequence[dict[str, str]]) -> bool:
    return all(kind.search(row.get(column, "")) for row in rows)


def _cells(row: str) -> dict[str, str]:
    """A row as ``agents.segments`` shows it ("Plan: Fiber 500; Price: $39.99"), by column."""
    found = {}
    for part in row.rstrip(".").split("; "):
        column, colon, cell = part.partition(": ")
        if colon:
            found[column.strip()] = cell.strip()
    return found


def _value(cell: str, kind: re.Pattern[str]) -> float | None:
    """The cell's number in the kind's smallest unit ("1 hour" is 60), 0 for "free"."""
    number = _NUMBER.search(cell)
    if number is None:
        return 0.0 if kind is _MONEY and _FREE.search(cell) else None
    value = float(number.group().replace(",", ""))
    unit = _UNIT.match(cell[number.end() :].lstrip())
    if unit and kind is not _MONEY:
        name = unit.group().lower()
        value *= next((_SCALES[n] for n in (name, name.rstrip("s"), name[:4]) if n in _SCALES), 1.0)
    return value
