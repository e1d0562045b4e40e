"""The ``translation`` agent: text from one language to another, its layout kept exactly.

A text is cut into segments, the non-blank stretches of each line (a long line is cut
further at sentence ends); blank lines, indentation and the spaces between are kept aside
and put back around the translated segments, so the translation has the same lines and
paragraphs as the original. A language model translates segments in numbered batches;
without one, Apertium does (``agents.apertium``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agents import apertium
from agents.base import Agent, StepContext
from agents.errors import PermanentError
from agents.languages import apertium_package, known, name, normalize
from agents.llm import ChatModel, Message
from agents.scoring import Score, ScoreContext
from agents.scoring import translation as scoring

MAX_CHARS = 2_000_000
SEGMENT_CHARS = 2_000  # a longer line is cut at sentence ends, else at spaces
MODEL_BATCH_CHARS = 4_000
MODEL_BATCH_SEGMENTS = 40
SAMPLE_CHARS = 2_000  # what language detection looks at
# Sentence ends (also CJK full stops) with closing quotes, then the space to cut at.
_SENTENCE_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019)\]]*(\s+)")
_SPACE = re.compile(r"\s+")


class TranslationInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_CHARS)
    target_lang: str = Field(description="ISO 639-1 or 639-3 code, e.g. 'es' or 'spa'.")
    source_lang: str | None = Field(default=None, description="Detected when not given.")
    citations: list[str] = Field(
        default_factory=list,
        description=(
            "The text's citations (document ids), kept as they are in the output: give a "
            "generation step's citations when translating its answer."
        ),
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the text is empty")
        return value

    @field_validator("target_lang", "source_lang")
    @classmethod
    def _iso_639_3(cls, value: str | None) -> str | None:
        return None if value is None else normalize(value)

    @model_validator(mode="after")
    def _two_languages(self) -> TranslationInput:
        if self.source_lang == self.target_lang:
            raise ValueError(f"source_lang and target_lang are the same ({self.target_lang!r})")
        return self


class TranslationOutput(BaseModel):
    text: str
    source_lang: str = Field(description="ISO 639-3 code.")
    target_lang: str = Field(description="ISO 639-3 code.")
    engine: str = Field(description="'apertium' or 'llm:MODEL'.")
    citations: list[str] = Field(default_factory=list, description="The input's, unchanged.")


class _Detected(BaseModel):
    language: str = Field(description="ISO 639-1 code of the text's language (639-3 if none).")


class _Translated(BaseModel):
    lines: list[str]


DETECT = (
    "Identify the language the user's text is written in. Reply with its ISO 639-1 code "
    "(its ISO 639-3 code if it has no 639-1 code)."
)
TRANSLATE = (
    "You translate from {source} to {target}. The user sends a JSON object whose `lines` "
    "is a list of text segments, in order. Reply with a JSON object whose `lines` holds the "
    "translation of each segment: the same number of items ({count}), in the same order, "
    "one item per segment, never merged or split. Keep each segment's formatting (Markdown, "
    "punctuation, numbers, names, URLs, code) and translate nothing else."
)


def split_segments(text: str, limit: int = SEGMENT_CHARS) -> tuple[list[str], list[str]]:
    """Cut ``text`` into segments and the glue around them: one more glue than segments.

    ``join_segments(*split_segments(text)) == text`` for every text.
    """
    segments: list[str] = []
    glue = [""]
    for number, line in enumerate(text.split("\n")):
        if number:
            glue[-1] += "\n"
        content = line.strip()
        if not content:
            glue[-1] += line
            continue
        glue[-1] += line[: len(line) - len(line.lstrip())]
        for piece, space in _pieces(content, limit):
            segments.append(piece)
            glue.append(space)
        glue[-1] += line[len(line.rstrip()) :]
    return segments, glue


def join_segments(segments: Sequence[str], glue: Sequence[str]) -> str:
    """Put (translated) segments back between their glue."""
    assert len(glue) == len(segments) + 1
    return "".join(g + s for g, s in zip(glue, segments, strict=False)) + glue[-1]


def _pieces(content: str, limit: int) -> list[tuple[str, str]]:
    """A stripped line in pieces of at most ``limit`` characters, each with the space after it."""
    pieces = []
    start = 0
    while len(content) - start > limit:
        window = content[start : start + limit + 1]
        ends = list(_SENTENCE_END.finditer(window)) or list(_SPACE.finditer(window))
        ends = [end for end in ends if end.start(end.lastindex or 0) > 0]
        if ends:
            space = ends[-1].span(ends[-1].lastindex or 0)
            pieces.append((window[: space[0]], window[space[0] : space[1]]))
            start += space[1]
        else:  # no space at all: cut the run of characters
            pieces.append((window[:limit], ""))
            start += limit
    pieces.append((content[start:], ""))
    return pieces


class Translation(Agent):
    name = "translation"
    description = (
        "Translates a text into a target language (ISO 639-1 or 639-3 code, e.g. 'es'), "
        "keeping its lines and paragraphs; the source language is detected when not given. "
        "Without a language model it uses Apertium, which knows only the language pairs "
        "installed on the worker (e.g. English-Spanish): its card's `offers` list them as "
        "`pairs` (SOURCE-TARGET), or names the `models` that translate any language. "
        "`citations` pass through unchanged, so a translated answer keeps its sources."
    )
    Input = TranslationInput
    Output = TranslationOutput

    @classmethod
    def capabilities(cls, model: ChatModel | None) -> dict[str, Any]:
        """The model that translates any language celeriac knows, else Apertium's installed
        pairs (none, and why, when its programs are missing)."""
        if model is not None:
            return {"engine": f"llm:{model.model}", "models": [model.model]}
        try:
            apertium.check_installed()
        except PermanentError as exc:
            return {"engine": "apertium", "missing": str(exc), "pairs": []}
        return {"engine": "apertium", "pairs": sorted(f"{s}-{t}" for s, t in apertium.pairs())}

    @classmethod
    def unable(cls, input: TranslationInput, capabilities: Mapping[str, Any]) -> str | None:
        if capabilities.get("engine") != "apertium":
            return None
        if "missing" in capabilities:
            return str(capabilities["missing"])
        installed = [str(pair) for pair in capabilities.get("pairs", [])]
        target = input.target_lang
        if input.source_lang is None:
            if any(pair.endswith(f"-{target}") for pair in installed):
                return None
            return _no_pair_into(target, ", ".join(installed) or "none")
        if f"{input.source_lang}-{target}" in installed:
            return None
        return _no_pair(input.source_lang, target, ", ".join(installed) or "none")

    def score(
        self,
        input: TranslationInput,
        output: TranslationOutput,
        reference: Mapping[str, Any] | None,
        context: ScoreContext,
    ) -> list[Score]:
        return scoring.score(input, output, reference, context, translate=self.run)

    def run(self, input: TranslationInput, context: StepContext) -> TranslationOutput:
        segments, glue = split_segments(input.text)
        if context.model is not None:
            engine = f"llm:{context.model.model}"
            source = input.source_lang or _detect(context.model, input.text)
            if source == input.target_lang:  # already in the target language
                translated = segments
            else:
                translated = _with_model(context, segments, source, input.target_lang)
        else:
            engine = "apertium"
            source, translated = _with_apertium(context, input, segments)
        return TranslationOutput(
            text=join_segments(translated, glue),
            source_lang=source,
            target_lang=input.target_lang,
            engine=engine,
            citations=input.citations,
        )


def _detect(model: ChatModel, text: str) -> str:
    messages = [
        Message(role="system", content=DETECT),
        Message(role="user", content=text[:SAMPLE_CHARS]),
    ]
    detected, _ = model.structured(messages, _Detected, max_tokens=32)
    code = known(detected.language)
    if code is None:
        raise PermanentError(
            f"the model says the text is in {detected.language!r}, which is not a language "
            "code celeriac knows: give source_lang"
        )
    return code


def _with_model(context: StepContext, segments: list[str], source: str, target: str) -> list[str]:
    translated: list[str] = []
    for batch in _model_batches(segments):
        _stop_if_cancelled(context)
        translated += _model_batch(context, batch, source, target)
        context.progress(len(translated) / len(segments), f"{len(translated)} segments")
    return translated


def _stop_if_cancelled(context: StepContext) -> None:
    """Long texts go in batches: a cancelled job stops between two of them."""
    context.stop_if_cancelled()


def _model_batches(segments: list[str]) -> list[list[str]]:
    batches: list[list[str]] = []
    for batch in apertium.batches(segments, MODEL_BATCH_CHARS):
        for start in range(0, len(batch), MODEL_BATCH_SEGMENTS):
            batches.append(batch[start : start + MODEL_BATCH_SEGMENTS])
    return batches


def _model_batch(context: StepContext, batch: list[str], source: str, target: str) -> list[str]:
    """One call for the batch; if the model miscounts, one call per segment instead."""
    assert context.model is not None
    lines = _ask(context.model, batch, source, target)
    if len(lines) != len(batch):
        if len(batch) == 1:
            raise PermanentError(
                f"model {context.model.model!r} answered one segment with {len(lines)} translations"
            )
        context.logger.info("the model gave %d lines for %d; one by one", len(lines), len(batch))
        lines = [
            line for segment in batch for line in _model_batch(context, [segment], source, target)
        ]
    # A line break inside a segment would shift every line after it.
    return [_SPACE.sub(" ", line) if "\n" in line else line.strip() for line in lines]


def _ask(model: ChatModel, batch: list[str], source: str, target: str) -> list[str]:
    messages = [
        Message(
            role="system",
            content=TRANSLATE.format(source=name(source), target=name(target), count=len(batch)),
        ),
        Message(role="user", content=json.dumps({"lines": batch}, ensure_ascii=False)),
    ]
    size = sum(map(len, batch))
    reply, _ = model.structured(messages, _Translated, max_tokens=256 + 2 * size)
    return reply.lines


def _with_apertium(
    context: StepContext, input: TranslationInput, segments: list[str]
) -> tuple[str, list[str]]:
    apertium.check_installed()
    installed = apertium.pairs()
    source = input.source_lang or _guess_source(input, installed)
    pair = installed.get((source, input.target_lang))
    if pair is None:
        raise PermanentError(_no_pair(source, input.target_lang, apertium.describe(installed)))

    def progress(done: int) -> None:
        context.progress(done / len(segments), f"{done} of {len(segments)} segments")
        _stop_if_cancelled(context)

    return source, apertium.translate(pair, segments, progress=progress)


def _install(source: str, target: str) -> str:
    package = apertium_package(source, target)
    how = f"apt-get install {package}, or " if package else "Debian packages no such pair: "
    return how + "configure a language model (OPENAI_API_KEY or OPENAI_BASE_URL)"


def _guess_source(input: TranslationInput, installed: dict[tuple[str, str], apertium.Pair]) -> str:
    """The installed source language whose analyser knows the most of the text's words."""
    target = input.target_lang
    candidates = [pair for (_, into), pair in installed.items() if into == target]
    if not candidates:
        raise PermanentError(_no_pair_into(target, apertium.describe(installed)))
    sample = input.text[:SAMPLE_CHARS]
    scored = sorted(((apertium.coverage(p, sample), p.source) for p in candidates), reverse=True)
    best, source = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    if best < 0.6 or best - runner_up < 0.1:
        raise PermanentError(
            "the text's language cannot be told offline (Apertium's analysers for "
            f"{', '.join(p.source for p in candidates)} know too few of its words): "
            "give source_lang"
        )
    return source


def _no_pair(source: str, target: str, installed: str) -> str:
    return (
        f"Apertium cannot translate {source} to {target} on this worker; installed pairs: "
        f"{installed}. " + _install(source, target)
    )


def _no_pair_into(target: str, installed: str) -> str:
    return f"no installed Apertium pair translates into {target}; installed pairs: {installed}"
