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
        # The question's names place the answer: the number beside them, not the first.
        (
            "How many goals did Ana Ruiz score?",
            "Lea Kim scored five goals in the league, and Ana Ruiz scored three.",
            "three",
        ),
        (
            "Who founded the firm?",
            "The firm was founded by Ada Byron and Tom Wells.",
            "Ada Byron and Tom Wells",
        ),
        (
            "What is a teacher called in Hinduism?",
            "In Hinduism a spiritual teacher is known as a guru.",
            "guru",
        ),
        (
            "What is the fee for a late payment?",
            "Late payments are charged a reminder fee of 7.50 euro.",
            "7.50 euro",
        ),
        (
            "Where do I find the password?",
            "The password is printed on the sticker under the router.",
            "sticker",
        ),
        (
            "How do I restart the router?",
            "Restart the router by holding the power button for ten seconds.",
            "holding the power button for ten seconds",
        ),
        ("When was it signed?", "It was signed on February 7, 2016, in Paris.", "February 7, 2016"),
    ],
)
def test_the_span_of_the_kind_the_question_asks_for(
    question: str, sentence: str, expected: str
) -> None:
    assert short_answer(question, sentence) == expected


def test_a_sentence_that_shares_no_word_with_the_question_is_its_own_answer() -> None:
    assert short_answer("Who won?", "Nothing here.") == "Nothing here."
