"""Documents read as a reader sees them: units with their offsets in the source."""

from __future__ import annotations

import pytest

from agents.segments import units


def texts(source: str) -> list[tuple[str, str]]:
    return [(u.kind, u.text) for u in units(source)]


def test_a_line_wrap_inside_a_paragraph_never_ends_a_sentence() -> None:
    source = "Invoices are sent by e-mail and can be\ndownloaded from Settings, Billing."
    assert texts(source) == [
        ("sentence", "Invoices are sent by e-mail and can be downloaded from Settings, Billing.")
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "Each page costs 0.20 euro, e.g. for a fax.",
        "Support opens at 9:00 on weekdays.",
        'Choose "Remove" next to their name.',
        "Mr. Smith signs every letter.",
    ],
)
def test_abbreviations_numbers_and_quotes_do_not_end_a_sentence(sentence: str) -> None:
    assert texts(f"{sentence} Then it ends.") == [
        ("sentence", sentence),
        ("sentence", "Then it ends."),
    ]


def test_headings_items_and_rows_are_units_of_their_own() -> None:
    source = (
        "# Prices\n\nPick a plan.\n- Free for one\n  device\n- Pro. For teams.\n\n"
        "| Plan | Price |\n|---|---|\n| Pro | 5 euro |\n\nSetext title\n============\nLast one."
    )
    assert texts(source) == [
        ("heading", "Prices"),
        ("sentence", "Pick a plan."),
        ("item", "Free for one device"),
        ("item", "Pro."),
        ("item", "For teams."),
        ("row", "Plan: Pro; Price: 5 euro"),
        ("heading", "Setext title"),
        ("sentence", "Last one."),
    ]
    assert {u.text: u.section for u in units(source)}["Last one."] == "Setext title"


def test_offsets_point_into_the_source() -> None:
    source = "# Title\n\nOne sentence\nwraps here. And\n  another one.\n- an item\n"
    for unit in units(source):
        assert " ".join(source[unit.start : unit.end].split()) == unit.text


def test_dialogue_turns_and_labels_open_units_and_code_is_not_prose() -> None:
    source = (
        "#Person1#: Hello there\n#Person2#: Hi.\nCustomer: I need help.\n"
        "```\nprint('x. y.')\n```\nDone."
    )
    assert [u.text for u in units(source)] == [
        "#Person1#: Hello there",
        "#Person2#: Hi.",
        "Customer: I need help.",
        "Done.",
    ]


def test_a_mid_sentence_label_is_not_a_turn() -> None:
    source = "Open the menu and choose\nBilling: then pay."
    assert texts(source) == [("sentence", "Open the menu and choose Billing: then pay.")]
