"""Short answers: the part of the answering sentence that the question asks for."""

from __future__ import annotations

import pytest

from agents.spans import short_answer


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("When did the museum open?", "The museum opened in 1852, after a fire.", "1852"),
        (
            "How big can an attachment be on the Pro plan?",
            "On the Pro plan the size limit is 200 MB per file.",
            "200 MB",
        ),
        (
            "Who designed the bridge?",
            "The bridge was designed by Gustave Eiffel in the 1880s.",
            "Gustave Eiffel",
        ),
        ("How long does the link work?", "The link works for one hour.", "one hour"),
        ("How many seconds were left?", "The pass came with 3:08 left.", "3:08"),
    ],
)
def test_the_span_of_the_kind_the_question_asks_for(
    question: str, sentence: str, expected: str
) -> None:
    assert short_answer(question, sentence) == expected


def test_a_sentence_that_shares_no_word_with_the_question_is_its_own_answer() -> None:
    assert short_answer("Who won?", "Nothing here.") == "Nothing here."
