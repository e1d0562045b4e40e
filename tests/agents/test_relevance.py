"""How units score for a question: the relevance the offline answerer ranks them by."""

from __future__ import annotations

from agents.relevance import Question, Scorer, split_sentences

PARKING = (
    "parking",
    "Ending a ride",
    "Lock the bike by pressing the lever down. The app shows the bike on the map.",
)


def scores(question: str, *passages: tuple[str, str, str]) -> list[float]:
    units = split_sentences(list(passages))
    scorer = Scorer(Question(question), units)
    return [round(scorer.score(i, unit), 3) for i, unit in enumerate(units)]


def test_the_questions_words_side_by_side_score_higher() -> None:
    side_by_side, apart = scores("How do I lock the bike?", PARKING)
    assert side_by_side > apart > 0


def test_a_synonym_counts_as_the_word() -> None:
    passage = ("accidents", "Accidents", "After an accident, report it in the app.")
    assert scores("What do I do after a crash?", passage) == scores(
        "What do I do after an accident?", passage
    )


def test_a_word_of_a_yes_no_question_that_no_passage_has_lowers_every_unit() -> None:
    [plain] = scores("Can I park the bike?", ("p", "Parking", "You can park the bike anywhere."))
    [lacking] = scores(
        "Can I park the bike in Madrid?", ("p", "Parking", "You can park the bike anywhere.")
    )
    assert lacking < 0.7 * plain


def test_a_question_words_kind_that_no_passage_has_lowers_every_unit() -> None:
    tv = ("tv", "TV", "Our TV streams more than 80 channels.")
    [channels] = scores("Which channels does our TV stream?", tv)
    [sports] = scores("Which sports channels does our TV stream?", tv)
    assert sports <= 0.6 * channels
