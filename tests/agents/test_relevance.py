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


def test_a_common_slip_of_a_word_counts_as_the_word() -> None:
    # As the word itself but for its pairing with the next ("guest password"), unlike a
    # word that is no slip of any the unit has.
    wifi = ("wifi", "Wi-Fi", "The guest password is printed on the card at reception.")
    [slip] = scores("Where do I find the guest pasword?", wifi)
    [right] = scores("Where do I find the guest password?", wifi)
    [other] = scores("Where do I find the guest passport?", wifi)
    assert right > slip >= 0.8 * right > 2 * other
    # And the other way round: the page's slip ("recieve") holds the question's word.
    notes = ("notes", "Notes", "You will recieve a receipt by e-mail.")
    [page_slip] = scores("When do I receive a receipt?", notes)
    [without] = scores("When do I receive a refund?", notes)
    assert page_slip > 2 * without


def test_a_letter_left_out_of_a_longer_word_counts_as_the_word() -> None:
    overdraft = ("o", "Overdrafts", "We charge interest at 35.9% EAR on an arranged overdraft.")
    [slip] = scores("Whats the intrest rate on an overdraft?", overdraft)
    [right] = scores("Whats the interest rate on an overdraft?", overdraft)
    [other] = scores("Whats the entry rate on an overdraft?", overdraft)
    assert right >= slip >= 0.8 * right > other
    # Not in a short word, nor its first letter: "ports" is no slip of "sports".
    port = ("p", "Sports", "Our sports channels show football every Saturday.")
    [ports] = scores("Which ports channels are there?", port)
    [sports] = scores("Which sports channels are there?", port)
    assert ports < 0.8 * sports


def test_a_word_one_letter_off_another_way_is_another_word() -> None:
    # "rider" is no slip of "ride", nor "sport" of "port": both still weigh the units down.
    ebikes = ("e", "E-bikes", "Each ride on an e-bike costs 0.20 euro a minute.")
    [rider] = scores("Is there a maximum rider weight for the e-bikes?", ebikes)
    [ride] = scores("Is there a maximum ride weight for the e-bikes?", ebikes)
    assert rider < ride
    port = ("p", "Ports", "The router has four network ports.")
    [sport] = scores("Which sport ports does the router have?", port)
    [plain] = scores("Which ports does the router have?", port)
    assert sport < plain


def test_when_it_happened_is_no_topic_unless_a_passage_has_it() -> None:
    claims = ("c", "Break-ins", "After a burglary, tell the police within 24 hours.")
    [plain] = scores("Someone broke in, how long do I have to tell the police?", claims)
    [dated] = scores("Someone broke in last night, how long do I have to tell the police?", claims)
    assert dated == plain
    # A passage that has the word: it counts as any other ("open on Sunday").
    hours = ("h", "Opening hours", "On Sunday the club opens at 9am.")
    [sunday] = scores("What time does the club open on Sunday?", hours)
    [monday] = scores("What time does the club open on Monday?", hours)
    assert sunday > monday
    # Who it is for is a topic: "my neighbour" that no passage has still weighs units down.
    leave = ("l", "Delivery", "The driver can leave the parcel in a safe place.")
    [alone] = scores("Can the driver leave the parcel?", leave)
    [neighbour] = scores("Can the driver leave the parcel with my neighbour?", leave)
    assert neighbour < 0.7 * alone


def test_a_number_written_with_its_unit_is_the_number_and_the_unit() -> None:
    spaced = ("d", "Extra data", "An extra 5 GB costs $10 and lasts until your plan renews.")
    glued = ("g", "Extra data", "An extra 5GB costs $10 and lasts until your plan renews.")
    for page in (spaced, glued):
        assert scores("How much for an extra 5gb?", page) == scores(
            "How much for an extra 5 GB?", page
        )
    # A one-letter unit stays: "5G" is a name (of a network), not five grams.
    network = ("n", "Coverage", "Our 5G network covers 98% of the country.")
    assert scores("Where does 5G reach?", network) > scores("Where does 4G reach?", network)


SERVICES = (
    "services",
    "Delivery services",
    "| Service | Delivery time | Extra cost |\n"
    "|---|---|---|\n"
    "| Next Day | Next working day by 6pm | +$3.00 |\n"
    "| Same Day | By 9pm the same day | +$9.00 |\n"
    "| Child (4 to 15) | Ages 4 to 15 | +$1.00 |\n",
)


def test_the_row_whose_first_cell_the_question_names_scores_higher() -> None:
    next_day, same_day, _ = scores("How much extra is same day delivery?", SERVICES)
    assert same_day > next_day  # the cells but the first share the question's words alike
    # What a first cell says in brackets is no part of its name; a synonym names it.
    assert (
        scores("What extra do kids cost?", SERVICES)[2]
        > scores("What extra do pets cost?", SERVICES)[2]
    )
    # A number of the first cell must be the question's too.
    five, fifteen = scores(
        "How much for an extra 5gb?",
        ("d", "Add-ons", "| Add-on | Price |\n|---|---|\n| 5 GB | $10 |\n| 15 GB | $20 |\n"),
    )
    assert five > fifteen
