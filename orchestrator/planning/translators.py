"""What a deployment can translate, and a goal's languages checked against it at plan time.

The live translation workers' cards offer the Apertium ``pairs`` installed on them, or the
``models`` that translate between any languages celeriac knows (``Translation.offers``):
the orchestrator reads them and never runs Apertium itself. A goal that asks for a language
celeriac does not know, or that no live worker can produce, is a ``PlanningError`` before
anything runs, naming the language, what is available and how to add it. A goal that
allows it (``Goal.fallback_language``) is answered in its source language instead, and the
plan carries a warning that says so.

>>> translators = Translators(pairs=frozenset({("eng", "spa")}), models=())
>>> translators.can("eng", "spa"), translators.can("eng", "deu")
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.languages import apertium_package, known, name
from orchestrator.errors import PlanError, PlanningError
from orchestrator.models import Goal, Plan
from orchestrator.planning.cards import AgentCard, Cards
from orchestrator.planning.goal_text import (
    TRANSLATE_ONLY,
    source_language,
    target_languages,
    unknown_languages,
    written_in,
)

TRANSLATOR = "translation"  # the agent type that answers in other languages
SOURCE = "eng"  # the language answers are written in before they are translated
MODEL_HINT = "configure a language model (OPENAI_API_KEY or OPENAI_BASE_URL)"
FALLBACK_HINT = "allow an answer in English (--fallback-language, CELERIAC_FALLBACK_LANGUAGE=1)"


@dataclass(frozen=True)
class Translators:
    """The translation directions of one deployment's live workers."""

    pairs: frozenset[tuple[str, str]]
    models: tuple[str, ...]
    served: bool = True

    @classmethod
    def of(cls, card: AgentCard | None) -> Translators:
        if card is None:
            return cls(frozenset(), (), served=False)
        pairs = (pair.partition("-") for pair in card.offers.get("pairs", []))
        return cls(
            frozenset((source, target) for source, _, target in pairs if source and target),
            tuple(card.offers.get("models", [])),
        )

    def can(self, source: str | None, target: str) -> bool:
        """True if some live worker translates ``source`` (None: detected) into ``target``."""
        if source == target or self.models:
            return True
        if source is None:
            return any(into == target for _, into in self.pairs)
        return (source, target) in self.pairs

    def answers_in(self) -> str:
        """The languages an English answer can be given in, for a message."""
        if self.models:
            return "any language celeriac knows"
        codes = sorted({target for source, target in self.pairs if source == SOURCE})
        return " and ".join(name(code) for code in [SOURCE, *codes])

    def available(self) -> str:
        """What translates here, for a message."""
        if self.models:
            return f"the model {', '.join(self.models)} translates"
        pairs = ", ".join(sorted(f"{s}-{t}" for s, t in self.pairs)) or "none"
        return f"installed Apertium pairs: {pairs}"

    def cannot(self, source: str | None, target: str, *, fallback: bool = False) -> str:
        """Why ``source`` (None: any) cannot be translated into ``target`` here, and the ways
        to change that (``fallback``: also the answer in English)."""
        if not self.served:
            reason = f"no live worker serves the {TRANSLATOR!r} agent type"
            remedies = [f"start one with `celeriac worker --agent {TRANSLATOR}`"]
        else:
            what = f"{name(source)} into {name(target)}" if source else f"into {name(target)}"
            reason = f"no live translation worker translates {what} ({self.available()})"
            package = apertium_package(source, target) if source else None
            remedies = [MODEL_HINT]
            if package:
                remedies.insert(0, f"install its pair on them (apt-get install {package})")
            elif source:
                reason += f" and Debian packages no Apertium pair for {name(source)}-{name(target)}"
        if fallback:
            remedies.append(FALLBACK_HINT)
        if len(remedies) > 1:
            remedies[-1] = "or " + remedies[-1]
        return f"{reason}: " + (", " if len(remedies) > 2 else " ").join(remedies)


def check_goal_words(text: str) -> None:
    """``PlanningError`` naming a language the goal asks for that celeriac does not know."""
    unknown = unknown_languages(text)
    if unknown:
        raise PlanningError(
            f"celeriac does not know the language {unknown[0]!r}: name a language in English "
            "(e.g. 'Answer in Spanish') or by its ISO 639 code (e.g. 'es')"
        )


def check_languages(goal: Goal, cards: Cards) -> tuple[Goal, list[str]]:
    """The goal to plan and the warnings its plan carries, once its languages are decided.

    Raises ``PlanningError`` for a language celeriac does not know, or one that no live
    worker can produce and the goal does not allow an answer in English instead.
    """
    translators = Translators.of(cards.get(TRANSLATOR))
    try:
        check_goal_words(goal.text)
    except PlanningError as exc:
        raise PlanningError(
            f"{exc}; this deployment answers in {translators.answers_in()}"
        ) from None
    if TRANSLATE_ONLY.match(goal.text):
        # The translation is the task (no answer to fall back on), from the text's own
        # language when the goal does not name it (any worker's source will do here).
        source, instruction = source_language(goal.text)
        targets, _ = target_languages(instruction)
        for code in targets:
            if code != source and not translators.can(source, code):
                reason = translators.cannot(source, code)
                raise PlanningError(f"celeriac cannot translate into {name(code)} here: {reason}")
        return goal, []
    _check_written_in(goal.text, translators)
    targets, rest = target_languages(goal.text)
    missing = [code for code in targets if not translators.can(SOURCE, code)]
    if not missing:
        return goal, []
    names = " and ".join(name(code) for code in missing)
    if not goal.fallback_language:
        reason = translators.cannot(SOURCE, missing[0], fallback=True)
        raise PlanningError(f"celeriac cannot answer in {names} here: {reason}")
    kept = [code for code in targets if code not in missing]
    if kept:  # the languages it can answer in, asked for again
        rest = rest.rstrip(" .") + f". Answer in {' and '.join(name(code) for code in kept)}."
    warning = (
        f"the answer is in {name(SOURCE)}, not {names}: {translators.cannot(SOURCE, missing[0])}"
    )
    return goal.model_copy(update={"text": rest}), [warning]


def _check_written_in(text: str, translators: Translators) -> None:
    """``PlanningError`` for a goal written in a language that is not translated into
    English here, or its answer not back into it (it would fail in planning)."""
    if translators.models:
        return  # a model translates every language celeriac knows
    language = written_in(text)
    for source, target in ((language, SOURCE), (SOURCE, language)):
        if language != SOURCE and not translators.can(source, target):
            raise PlanningError(
                f"celeriac cannot answer a goal written in {name(language)} here: "
                f"{translators.cannot(source, target)}"
            )


def check_translations(plan: Plan, cards: Cards) -> None:
    """``PlanError`` for a step of ``plan`` that asks a translator for a direction no live
    worker of its type offers (languages given as literals only; the rest the step checks)."""
    for step in plan.steps:
        card = cards.get(step.agent)
        if card is None or not {"pairs", "models"} & set(card.offers):
            continue
        target, source = (_code(step.input.get(key)) for key in ("target_lang", "source_lang"))
        if target is None or (source is None and step.input.get("source_lang") is not None):
            continue
        translators = Translators.of(card)
        if not translators.can(source, target):
            raise PlanError(
                f"step {step.id!r} cannot run: {translators.cannot(source, target)}",
                step_id=step.id,
            )


def _code(value: object) -> str | None:
    """A language given as a code celeriac knows; None for none, a reference, or a bad code
    (the step's own validation says what is wrong with those)."""
    return known(value) if isinstance(value, str) else None
