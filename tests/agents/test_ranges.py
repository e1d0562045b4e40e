"""A question's own number and the band of a help page that it falls in."""

from __future__ import annotations

import math

import pytest

from agents import ranges
from agents.extractive import answer

SHIPPING = """# Shipping

The shipping fee depends on the parcel's weight.

| Weight | Fee |
|---|---|
| Under 2 kg | $4.50 |
| 2 to 10 kg | $8.90 |
| Over 10 kg | $15.00 |

Parcels are collected from Monday to Friday. Call 1-800-555-0142 between 9:00-17:00.
"""
MEMBERS = """# Membership

## Ages

Members aged 14-17 need a parent's signature on the form. Members aged 65 and over pay
the senior rate of $19 a month.

## Reading a meter

Dial meters:

- Read the dials from left to right.
- Where a pointer is between two numbers, write down the lower one.
"""


@pytest.mark.parametrize(
    ("text", "value", "kind", "expected"),
    [
        ("2 to 10 kg", 6, "kg", True),
        ("2 to 10 kg", 12, "kg", False),
        ("2 to 10 kg", 6, "mile", False),  # another measure
        ("Under 2 kg", 2, "kg", False),  # under is short of it
        ("up to 2 kg", 2, "kg", True),
        ("Over 10 kg", 10, "kg", False),
        ("Members aged 14-17", 15, None, True),  # a bare number: an age
        ("65 and over", 83, None, True),
        ("between 3 and 5 days", 4, "day", True),
        ("orders under $12", 9, "money", True),
        ("orders under $12", 9, None, False),  # a bare number is no sum of money
        ("up to 25%", 20, None, False),  # nor a share
        ("$1,000 excess", 1000, "money", True),
    ],
)
def test_a_band_holds_the_numbers_between_its_ends_of_its_kind(
    text: str, value: float, kind: str | None, expected: bool
) -> None:
    assert any(band.holds(value, kind) for band in ranges.bands(text)) is expected


def test_phone_numbers_dates_and_times_are_no_bands() -> None:
    assert ranges.bands("Call 1-800-555-0142 from 9:00-17:00 on 2026-12-05") == []


def test_a_questions_numbers_keep_their_kind() -> None:
    assert ranges.numbers("my parcel is 4 kg, it cost $9 and im 22") == [
        ("4", 4.0, "kg"),
        ("9", 9.0, "money"),
        ("22", 22.0, None),
    ]
    assert ranges.bands("Over 10 kg")[0].high == math.inf


def test_the_row_whose_band_holds_the_questions_number_answers() -> None:
    extract = answer(
        "my parcel weighs about 14 kg, how much to ship it?", [("s", "Shipping", SHIPPING)], 80
    )
    assert extract.answered  # without the band: "They do not mention '14'"
    assert "$15.00" in extract.text
    assert "$4.50" not in extract.text and "$8.90" not in extract.text


def test_an_age_the_question_gives_finds_its_band() -> None:
    extract = answer(
        "my daughter is 15, what do members her age need?", [("m", "Membership", MEMBERS)], 80
    )
    assert extract.answered
    assert "parent's signature" in extract.text


def test_a_unit_that_leads_into_a_list_comes_with_the_list() -> None:
    extract = answer("how do i read a dial meter?", [("m", "Membership", MEMBERS)], 80)
    assert "Read the dials from left to right" in extract.text
    assert "write down the lower one" in extract.text
