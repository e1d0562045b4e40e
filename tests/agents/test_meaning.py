"""The offline answerer's second opinion by meaning (``agents.meaning``, the dense extra):
a question in other words than the documents' is answered, and one about something the
documents do not have is still not."""

from __future__ import annotations

import pytest

from agents import meaning
from agents.extractive import ANSWERABLE, answer
from agents.generation import GenerationOutput, Passage
from agents.scoring.generation import answer_relevance
from tests.support.helpers import needs_dense

pytestmark = needs_dense

ACCOUNT = (
    "account",
    "Your account",
    "# Your account\n\n"
    'If you no longer know your PIN, choose "Reset PIN" in the app and follow the link that we\n'
    "send to your e-mail address.\n\n"
    "To close your account, write to our service team.\n",
)
CARDS = (
    "cards",
    "Cards",
    "# Lost cards\n\n"
    "A lost or stolen card can be blocked at once in the app under Cards, Block card. A new\n"
    "card reaches you within seven days.\n",
)
DOCS = [ACCOUNT, CARDS]
FORGOT = "I've forgotten my PIN, what now?"


def _by_words_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meaning, "similarities", lambda question, units: None)


def test_a_question_in_other_words_is_answered_by_meaning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extract = answer(FORGOT, DOCS, max_words=80)
    assert extract.answered and extract.citations == ["account"]
    assert 'choose "Reset PIN" in the app' in extract.text
    assert "close your account" not in extract.text  # the unit that answers, not its page
    _by_words_alone(monkeypatch)
    assert not answer(FORGOT, DOCS, max_words=80).answered  # the words alone fall short


@pytest.mark.parametrize(
    "question",
    [
        "Do you have branches in Lyon?",  # a name no document has
        "Can I get a card in gold?",  # like a page in meaning, not close enough
    ],
)
def test_what_the_documents_do_not_have_is_still_not_answered(question: str) -> None:
    extract = answer(question, DOCS, max_words=80)
    assert not extract.answered and extract.citations == []


def test_the_relevance_score_follows_the_answerer() -> None:
    passages = [Passage(id=i, title=t, text=x) for i, t, x in DOCS]
    extract = answer(FORGOT, DOCS, max_words=80)
    said = GenerationOutput(text=extract.text, citations=extract.citations)
    silent = GenerationOutput(text="The documents do not say.", citations=[], answered=False)
    # Abstaining where the passages answer in other words is wrong, and scores so: below
    # the answer, and below any abstention where the best unit falls short of ANSWERABLE.
    wrong = answer_relevance(FORGOT, silent, passages)
    assert wrong < answer_relevance(FORGOT, said, passages)
    assert wrong < 1 - ANSWERABLE


GYM = (
    "gym",
    "Opening hours",
    "# Opening hours\n\n"
    "The gym opens at 6:00 on weekdays and at 8:00 on Saturdays and Sundays. The sauna\n"
    "closes 30 minutes before the gym does.\n\n"
    "Lockers are emptied every night, so please take your things home with you.\n\n"
    "Towels can be hired at the front desk for 1 euro. Our staff are on hand from 9:00.\n",
)


def test_a_blended_answer_is_the_units_that_answer_not_the_whole_page() -> None:
    # Most units of a page are somewhat like a question about it in meaning, so under the
    # blend a unit joins only near the best one's score (meaning.ALONGSIDE).
    extract = answer("what time do you open on a saturday?", [GYM], max_words=80)
    assert extract.answered and extract.text.startswith("The gym opens at 6:00")
    assert "Lockers" not in extract.text and "Towels" not in extract.text
