"""A goal's languages checked at plan time against what the live translation workers offer."""

from __future__ import annotations

from typing import Any

import pytest

from agents.registry import load_registry
from orchestrator.errors import PlanError, PlanningError
from orchestrator.models import Goal, Plan, Step
from orchestrator.planning.base import checker, plan_for
from orchestrator.planning.cards import AgentCard, cards_of
from orchestrator.planning.goal_text import unknown_languages
from orchestrator.planning.rules import RulePlanner
from orchestrator.planning.translators import Translators, check_languages, check_translations

BUILT_IN = load_registry()
APERTIUM = {"pairs": ["eng-spa", "spa-eng"]}  # what this machine has installed
QUESTION = "How do I reset my password?"


def cards(**offers: list[str]) -> dict[str, AgentCard]:
    """The built-in types' cards, with translation workers that offer ``offers``."""
    built_in = cards_of(BUILT_IN)
    return {
        **built_in,
        "translation": built_in["translation"].model_copy(update={"offers": offers}),
    }


def plan(text: str, offered: dict[str, Any], **goal: Any) -> Plan:
    with_offers = cards(**offered)
    check = checker(with_offers, BUILT_IN, max_steps=100)
    return plan_for(RulePlanner("demo"), Goal(text=text, **goal), with_offers, check)


def test_a_language_with_an_installed_pair_is_planned_with_no_warning() -> None:
    made = plan(f"{QUESTION} Answer in Spanish.", APERTIUM)
    assert made.answer_from == "in_spanish" and made.warnings == []


def test_a_language_without_a_pair_is_an_error_naming_it_the_pairs_and_what_to_do() -> None:
    with pytest.raises(PlanningError) as caught:
        plan(f"{QUESTION} Answer in German.", APERTIUM)
    assert str(caught.value) == (
        "celeriac cannot answer in German here: no live translation worker translates "
        "English into German (installed Apertium pairs: eng-spa, spa-eng) and Debian packages "
        "no Apertium pair for English-German: configure a language model (OPENAI_API_KEY or "
        "OPENAI_BASE_URL) or allow an answer in English (--fallback-language, "
        "CELERIAC_FALLBACK_LANGUAGE=1)"
    )


def test_a_pair_debian_packages_is_named_with_the_command_that_installs_it() -> None:
    with pytest.raises(PlanningError, match=r"\(apt-get install apertium-eng-cat\), configure"):
        plan(f"{QUESTION} Answer in Catalan.", APERTIUM)


def test_with_the_fallback_the_answer_stays_in_english_and_the_plan_says_why() -> None:
    made = plan(f"{QUESTION} Answer in German.", APERTIUM, fallback_language=True)
    assert [step.agent for step in made.steps] == ["retrieval", "generation"]
    assert made.answer_from == "answer"
    [warning] = made.warnings
    assert warning.startswith("the answer is in English, not German: no live translation worker")
    assert "eng-spa" in warning and "--fallback-language" not in warning


def test_with_the_fallback_the_languages_that_can_be_made_still_are() -> None:
    made = plan(f"{QUESTION} Answer in Spanish and German.", APERTIUM, fallback_language=True)
    assert [step.id for step in made.steps] == ["search", "answer", "in_spanish"]
    assert made.warnings[0].startswith("the answer is in English, not German")


def test_a_model_on_the_translation_workers_produces_any_language_celeriac_knows() -> None:
    made = plan(f"{QUESTION} Answer in German.", {"models": ["m"]})
    assert made.answer_from == "in_german" and made.warnings == []


@pytest.mark.parametrize("fallback", [False, True])
def test_a_language_celeriac_does_not_know_is_named_in_the_error(fallback: bool) -> None:
    with pytest.raises(PlanningError) as caught:
        plan(f"{QUESTION} Answer in Klingon.", APERTIUM, fallback_language=fallback)
    assert str(caught.value).startswith("celeriac does not know the language 'Klingon': ")
    assert str(caught.value).endswith("this deployment answers in English and Spanish")


def test_without_a_translation_worker_the_error_says_how_to_start_one() -> None:
    without = {name: card for name, card in cards().items() if name != "translation"}
    with pytest.raises(PlanningError, match="start one with `celeriac worker --agent translation`"):
        check_languages(Goal(text=f"{QUESTION} Answer in Spanish."), without)


@pytest.mark.parametrize(
    ("goal", "refused"),
    [
        # No fallback: the translation is the task.
        ("Translate into French: Your invoice is ready.", "cannot translate into French"),
        # A goal in German is read into English, and answered in German, by no one here.
        ("Wie setze ich mein Passwort zurück?", "cannot answer a goal written in German"),
    ],
)
def test_translations_no_worker_can_do_are_refused_before_planning(goal: str, refused: str) -> None:
    with pytest.raises(PlanningError, match=f"^celeriac {refused} here: no live translation"):
        plan(goal, APERTIUM, fallback_language=True)


def test_a_goal_in_a_language_with_both_pairs_is_planned() -> None:
    made = plan("¿Cómo restablezco mi contraseña?", APERTIUM)
    assert made.steps[0].id == "goal_in_english" and made.warnings == []


def test_with_a_model_a_goal_in_any_language_celeriac_knows_passes_the_check() -> None:
    goal = Goal(text="Wie setze ich mein Passwort zurück?")
    assert check_languages(goal, cards(models=["m"])) == (goal, [])
    assert check_languages(Goal(text="Translate 'hi' into German."), cards(models=["m"]))[1] == []


def test_only_literal_languages_are_checked_in_a_plan() -> None:
    steps = [
        Step(id="a", agent="translation", input={"text": "x", "target_lang": "es"}),
        Step(id="b", agent="translation", input={"text": "x", "target_lang": {"$from": "a"}}),
        Step(id="c", agent="translation", input={"text": "x", "target_lang": "xx"}),
        Step(id="d", agent="retrieval", input={"query": "x", "target_lang": "de"}),
    ]
    check_translations(Plan(steps=steps), cards(**APERTIUM))  # nothing to refuse
    with pytest.raises(PlanError, match="no live translation worker translates into German"):
        check_translations(
            Plan(
                steps=[Step(id="e", agent="translation", input={"text": "x", "target_lang": "de"})]
            ),
            cards(**APERTIUM),
        )


def test_translators_read_pairs_and_models_off_a_card() -> None:
    apertium = Translators.of(cards(**APERTIUM)["translation"])
    assert apertium.can("eng", "spa") and apertium.can(None, "spa") and apertium.can("deu", "deu")
    assert not apertium.can("eng", "deu") and not apertium.can(None, "deu")
    assert apertium.answers_in() == "English and Spanish"
    model = Translators.of(cards(models=["m"])["translation"])
    assert model.can("eng", "jpn") and model.answers_in() == "any language celeriac knows"


@pytest.mark.parametrize(
    ("goal", "unknown"),
    [
        ("Answer in Klingon.", ["Klingon"]),
        ("A customer asks about billing. Answer them in Klingon", ["Klingon"]),
        ("Translate it into Elvish", ["Elvish"]),
        ("Reply in the klingon language", ["klingon"]),
        ("Answer in Spanish.", []),
        ("Answer in es", []),
        ("Explain sync in detail", []),
        ("Answer in Markdown", []),
        ("Respond to Alice about sync", []),
        ("What is sync in Notes?", []),
    ],
)
def test_language_names_celeriac_does_not_know_are_found_in_a_goal(
    goal: str, unknown: list[str]
) -> None:
    assert unknown_languages(goal) == unknown


def test_the_identifier_loaded_in_the_background_is_the_one_a_check_uses() -> None:
    from orchestrator.planning import goal_text

    goal_text.load_identifier_in_background()
    assert goal_text.written_in("Explique comment réinitialiser mon mot de passe oublié") == "fra"
    assert goal_text._identifier() is goal_text._identifier()
    assert goal_text._load_identifier.cache_info().misses == 1  # loaded once, not per thread
