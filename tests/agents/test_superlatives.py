"""A superlative over a table's rows ("the fastest plan") is answered by the extreme row."""

from __future__ import annotations

import pytest

from agents.extractive import answer
from agents.relevance import split_sentences
from agents.superlatives import rescored

PLANS = """# Internet plans

We offer three fiber plans, all with unlimited data.

| Plan | Download | Upload | Monthly price |
|---|---|---|---|
| Fiber 100 | 100 Mbps | 20 Mbps | $39.99 |
| Fiber Gig | 1 Gbps | 880 Mbps | $74.99 |
| Fiber 500 | 500 Mbps | 100 Mbps | $54.99 |

Prices are locked for the first 12 months of your contract.
"""
DELIVERY = """# Delivery options

| Option | Arrives within | Price |
|---|---|---|
| Standard | 5 days | Free |
| Express | 48 hours | 4.90 euro |
| Next day | 1 day | 9.90 euro |
"""


def first_row(question: str, text: str) -> str:
    extract = answer(question, [("page", "Page", text)], 80)
    assert extract.answered and extract.citations == ["page"]
    rows = [s.text for s in extract.sentences if s.kind == "row"]
    assert extract.sentences[0].kind == "row"
    assert len(rows) == 1  # the table's other rows are left out
    return rows[0]


@pytest.mark.parametrize(
    ("question", "plan"),
    [
        ("how much a month is your fastest plan", "Fiber Gig"),  # 1 Gbps is 1,000 Mbps
        ("what's your cheapest plan?", "Fiber 100"),
        ("which is the most expensive plan", "Fiber Gig"),
        ("which plan has the biggest upload?", "Fiber Gig"),
        ("how much is the slowest plan?", "Fiber 100"),
    ],
)
def test_the_extreme_row_of_the_column_asked_about_answers(question: str, plan: str) -> None:
    assert first_row(question, PLANS).startswith(f"Plan: {plan};")


def test_fastest_in_a_table_of_times_is_the_shortest_and_free_is_the_cheapest() -> None:
    assert first_row("what is the fastest delivery option?", DELIVERY).startswith("Option: Next")
    assert first_row("what's the cheapest delivery?", DELIVERY).startswith("Option: Standard")


def test_a_question_without_a_superlative_or_a_table_is_left_as_it_is() -> None:
    units = split_sentences([("page", "Page", PLANS)])
    scores = [0.1 * i for i in range(len(units))]
    assert rescored("What plans do you have?", units, scores, 2) == (scores, 2)
    prose = split_sentences([("page", "Page", "Express costs 9 euro. Standard is free.")])
    assert rescored("What is the cheapest?", prose, [0.5, 0.4], 0) == ([0.5, 0.4], 0)
