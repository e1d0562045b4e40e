"""The offline planner: golden goals and the plan shape each gets, and the goals it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from agents.registry import load_registry
from orchestrator.errors import PlanningError
from orchestrator.models import Goal, Plan
from orchestrator.planning.base import checker
from orchestrator.planning.cards import cards_of
from orchestrator.planning.goal_text import source_language, target_languages, written_in
from orchestrator.planning.rules import RulePlanner

BUILT_IN = load_registry()  # retrieval, generation, translation (entry points)
# Translation workers with a model: every language (what Apertium offers: test_translators).
CARDS = {
    name: card.model_copy(update={"offers": {"models": ["m"]}}) if name == "translation" else card
    for name, card in cards_of(BUILT_IN).items()
}
CHECK = checker(CARDS, BUILT_IN, max_steps=100)


def plan(text: str, collection: str | None = None, cards: Any = CARDS) -> Plan:
    return RulePlanner("demo").plan(Goal(text=text, collection=collection), cards, CHECK)


def shape(made: Plan) -> dict[str, tuple[str, list[str]]]:
    """Each step's agent and the steps it waits for: what a golden goal pins down."""
    from orchestrator.plans import dependencies

    return {step.id: (step.agent, sorted(dependencies(step))) for step in made.steps}


def inputs(made: Plan) -> dict[str, dict[str, Any]]:
    return {step.id: step.input for step in made.steps}


def ref(step: str, path: str) -> dict[str, str]:
    return {"$from": step, "path": path}


def test_finding_what_the_documents_say_is_one_search() -> None:
    made = plan("Find what the documents say about two-factor authentication")
    assert shape(made) == {"search": ("retrieval", [])}
    assert inputs(made)["search"] == {
        "query": "two-factor authentication",
        "collection": "demo",
        "k": 5,
        "mode": "auto",  # by words and meaning where the deployment can
    }
    assert made.answer_from == "search"


def test_a_question_is_searched_then_answered_from_the_hits() -> None:
    made = plan("How do I turn on two-factor authentication?", collection="support")
    assert shape(made) == {"search": ("retrieval", []), "answer": ("generation", ["search"])}
    assert inputs(made)["search"]["collection"] == "support"
    assert inputs(made)["search"]["query"] == "How do I turn on two-factor authentication"
    assert inputs(made)["answer"] == {
        "instruction": "How do I turn on two-factor authentication?",
        "context": ref("search", "hits"),
        "max_words": 80,  # an answer a customer reads whole
    }
    assert made.answer_from == "answer"


@pytest.mark.parametrize(
    "goal",
    [
        "Explain how sync works",
        "Summarize what the documents say about billing",
        "Write a reply to a customer whose notes do not sync",
        "A customer asks how to change their e-mail address.",
    ],
)
def test_explain_summarize_and_reply_goals_are_answered_from_a_search(goal: str) -> None:
    assert shape(plan(goal)) == {
        "search": ("retrieval", []),
        "answer": ("generation", ["search"]),
    }


def test_the_demo_goal_answers_then_translates_into_spanish() -> None:
    made = plan("A customer asks how to reset a forgotten password. Answer them in Spanish.")
    assert shape(made) == {
        "search": ("retrieval", []),
        "answer": ("generation", ["search"]),
        "in_spanish": ("translation", ["answer"]),
    }
    # The words that asked for Spanish are neither searched for nor part of the instruction.
    assert inputs(made)["search"]["query"] == "how to reset forgotten password"
    assert inputs(made)["answer"]["instruction"] == (
        "A customer asks how to reset a forgotten password."
    )
    # The translated answer keeps the answer's citations.
    assert inputs(made)["in_spanish"] == {
        "text": ref("answer", "text"),
        "source_lang": "eng",
        "target_lang": "spa",
        "citations": ref("answer", "citations"),
    }
    assert made.answer_from == "in_spanish"


def test_two_languages_are_two_parallel_translations_of_one_answer() -> None:
    made = plan(
        "Find what the documents say about billing, summarize it and translate it into "
        "Spanish and Catalan"
    )
    assert shape(made) == {
        "search": ("retrieval", []),
        "answer": ("generation", ["search"]),
        "in_spanish": ("translation", ["answer"]),
        "in_catalan": ("translation", ["answer"]),
    }
    assert inputs(made)["in_catalan"]["target_lang"] == "cat"
    assert inputs(made)["in_catalan"]["citations"] == ref("answer", "citations")
    assert made.answer_from is None  # the answer is both translations


def test_translate_this_text_is_translation_alone() -> None:
    made = plan("Translate this text into French and German: Your invoice is ready.")
    assert shape(made) == {"in_french": ("translation", []), "in_german": ("translation", [])}
    assert inputs(made)["in_french"] == {
        "text": "Your invoice is ready.",
        "source_lang": "eng",
        "target_lang": "fra",
    }


@pytest.mark.parametrize(
    ("goal", "text", "source", "target"),
    [
        ('Translate "Good morning" into Spanish', "Good morning", "eng", "spa"),
        ("translate to es: the sync is paused", "the sync is paused", "eng", "spa"),
        ("Translate from Spanish into English: buenos días", "buenos días", "spa", "eng"),
    ],
)
def test_translation_goals_name_text_and_languages_in_several_ways(
    goal: str, text: str, source: str, target: str
) -> None:
    made = plan(goal)
    assert len(made.steps) == 1 and made.steps[0].agent == "translation"
    assert made.steps[0].input == {"text": text, "source_lang": source, "target_lang": target}


def test_compare_is_two_parallel_searches_and_one_answer() -> None:
    made = plan("Compare the Free and Pro plans with two-factor authentication")
    assert shape(made) == {
        "search_1": ("retrieval", []),
        "search_2": ("retrieval", []),
        "compare": ("generation", ["search_1", "search_2"]),
    }
    assert inputs(made)["search_1"]["query"] == "Free and Pro plans"
    assert inputs(made)["search_2"]["query"] == "two-factor authentication"
    assert inputs(made)["compare"]["context"] == [ref("search_1", "hits"), ref("search_2", "hits")]


def test_a_goal_in_spanish_is_translated_to_english_and_its_answer_back() -> None:
    made = plan("¿Cómo restablezco mi contraseña olvidada?")
    assert shape(made) == {
        "goal_in_english": ("translation", []),
        "search": ("retrieval", ["goal_in_english"]),
        "answer": ("generation", ["goal_in_english", "search"]),
        "in_spanish": ("translation", ["answer"]),
    }
    assert inputs(made)["goal_in_english"]["source_lang"] == "spa"
    assert "citations" not in inputs(made)["goal_in_english"]  # a goal has none
    assert inputs(made)["in_spanish"]["citations"] == ref("answer", "citations")
    assert inputs(made)["search"]["query"] == ref("goal_in_english", "text")
    assert made.answer_from == "in_spanish"


@pytest.mark.parametrize(
    "goal",
    ["Book a flight to Paris for Tuesday", "Generate an image of a cat", "Send the invoice to Bob"],
)
def test_goals_outside_the_shapes_say_so_and_what_would_help(goal: str) -> None:
    with pytest.raises(PlanningError, match="cannot tell what the goal") as caught:
        plan(goal)
    assert "OPENAI_API_KEY" in str(caught.value) and "--plan" in str(caught.value)


def test_a_goal_with_nothing_to_search_for_asks_for_a_topic() -> None:
    with pytest.raises(PlanningError, match="does not say what to look for"):
        plan("Summarize the documents")


def test_a_translation_without_a_language_asks_for_one() -> None:
    with pytest.raises(PlanningError, match="which language to translate into"):
        plan("Translate this: hello there")


def test_a_type_no_worker_serves_is_not_planned_and_the_error_says_how_to_start_one() -> None:
    without_translation = {name: card for name, card in CARDS.items() if name != "translation"}
    with pytest.raises(PlanningError, match="celeriac worker --agent translation"):
        plan("Explain how sync works, in Spanish", cards=without_translation)
    assert shape(plan("Explain how sync works", cards=without_translation)) == {
        "search": ("retrieval", []),
        "answer": ("generation", ["search"]),
    }


@pytest.mark.parametrize(
    ("goal", "languages", "rest"),
    [
        ("Answer in Spanish.", ["spa"], ""),
        ("Explain sync. Answer in Spanish.", ["spa"], "Explain sync."),
        ("Explain sync in German", ["deu"], "Explain sync"),
        (
            "Summarize billing, then translate to es, ca and Italian",
            ["spa", "cat", "ita"],
            "Summarize billing",
        ),
        ("Explain how to export it to PDF", [], "Explain how to export it to PDF"),
        ("Compare billing to sync", [], "Compare billing to sync"),
    ],
)
def test_target_languages_are_read_off_the_goal(goal: str, languages: list[str], rest: str) -> None:
    assert target_languages(goal) == (languages, rest)


def test_a_source_language_is_read_off_the_goal() -> None:
    assert source_language("Translate from German into English") == (
        "deu",
        "Translate into English",
    )
    assert source_language("Translate into English") == (None, "Translate into English")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("How do I reset a forgotten password?", "eng"),
        ("¿Cómo restablezco mi contraseña olvidada?", "spa"),
        ("Wie setze ich mein Passwort zurück?", "deu"),
        ("sync", "eng"),  # too short to tell: English
    ],
)
def test_the_language_a_goal_is_written_in(text: str, language: str) -> None:
    assert written_in(text) == language
