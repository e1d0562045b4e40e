"""The translation agent: codes, segments, Apertium (installed by .ci/run), a scripted model."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import ValidationError

from agents import PermanentError, StepContext, TransientError, apertium
from agents.errors import StepCancelled
from agents.languages import normalize
from agents.llm import Message, ScriptedChatModel
from agents.translation import (
    Translation,
    TranslationInput,
    TranslationOutput,
    join_segments,
    split_segments,
)
from tests.support.helpers import needs_apertium

ARTICLE = """\
Reset a forgotten password
Open the login page and click the link under the password field.
We send you an e-mail with a link that works for one hour.

Invoices and billing
Invoices are sent on the first day of every month
  - You can download every invoice from the billing page.

The red car is fast
"""


def run(payload: dict[str, object], model: ScriptedChatModel | None = None) -> TranslationOutput:
    context = StepContext(job_id="j", step_id="s", attempt=1, agent="translation", model=model)
    return Translation().run(TranslationInput.model_validate(payload), context)


def layout(text: str) -> list[str]:
    """Each line's indentation, or '' for a blank line: what a translation must keep."""
    return [
        line[: len(line) - len(line.lstrip())] if line.strip() else "" for line in text.split("\n")
    ]


@pytest.mark.parametrize(
    ("code", "iso3"),
    [
        *[("en", "eng"), ("ENG", "eng"), ("es", "spa"), ("spa", "spa"), ("ca", "cat")],
        *[("gl", "glg"), ("fr", "fra"), ("fre", "fra"), ("pt-BR", "por"), ("en_US", "eng")],
        ("ast", "ast"),
    ],
)
def test_codes_are_normalised_to_iso_639_3(code: str, iso3: str) -> None:
    assert normalize(code) == iso3


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"text": "", "target_lang": "es"}, "at least 1 character"),
        ({"text": " \n\t ", "target_lang": "es"}, "the text is empty"),
        ({"text": "hi", "target_lang": "xx"}, "unknown language code 'xx'"),
        ({"text": "hi", "target_lang": "es", "source_lang": "klingon"}, "'klingon'"),
        ({"text": "hi", "target_lang": "es", "source_lang": "spa"}, "are the same ('spa')"),
        ({"text": "hi", "target_lang": "es", "colour": "red"}, "Extra inputs"),
        ({"text": "x" * 2_000_001, "target_lang": "es"}, "at most 2000000 characters"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    payload: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        TranslationInput.model_validate(payload)


@pytest.mark.parametrize(
    "text",
    [ARTICLE, "one", "  lead and trail  \r\n\n\n", "\n\nA. B! C? " * 300, "x" * 5000 + " y"],
)
def test_segments_and_glue_give_back_the_text(text: str) -> None:
    segments, glue = split_segments(text, limit=100)
    assert join_segments(segments, glue) == text
    assert all(0 < len(segment) <= 100 and segment == segment.strip() for segment in segments)


def test_a_long_line_is_cut_at_sentence_ends() -> None:
    segments, glue = split_segments("First one here. Second one there. Third.", limit=20)
    assert segments == ["First one here.", "Second one there.", "Third."]
    assert glue == ["", " ", " ", ""]


def test_pairs_are_discovered_from_the_modes_directory(tmp_path: Path) -> None:
    modes = tmp_path / "modes"
    modes.mkdir()
    for name in ("eng-spa", "spa-eng_US", "en-ca", "eng-spa-tagger", "xyz-eng"):
        (modes / f"{name}.mode").write_text("cat")
    found = apertium.pairs([tmp_path, tmp_path / "missing"])
    assert sorted(found) == [("eng", "cat"), ("eng", "spa")]
    assert found["eng", "cat"].name == "en-ca"
    assert apertium.describe(found) == "eng-cat, eng-spa"
    (modes / "cat-eng.mode").write_text("cat")  # a new package: seen without a restart
    assert ("cat", "eng") in apertium.pairs([tmp_path])


def test_a_hung_pipeline_is_killed_and_is_transient() -> None:
    with pytest.raises(TransientError, match="took over 0 s for 1 segments"):
        apertium.run("sleep 60", ["hello"], timeout=0.3)


def test_a_missing_apertium_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PermanentError, match="apt-get install apertium apertium-eng-spa"):
        run({"text": "Hello", "source_lang": "en", "target_lang": "es"})


def test_stream_escapes_round_trip() -> None:
    text = r"a [b] c\d ^e$ /f @g <h> {i} ~j"
    assert apertium.decode(apertium.encode(text).rstrip("\0")) == text


@needs_apertium
def test_an_unsupported_pair_names_the_installed_pairs() -> None:
    with pytest.raises(PermanentError) as caught:
        run({"text": "Bonjour", "source_lang": "fr", "target_lang": "ja"})
    message = str(caught.value)
    assert "Apertium cannot translate fra to jpn" in message
    assert "eng-spa" in message and "spa-eng" in message


@needs_apertium
def test_a_pair_debian_packages_is_named_with_its_package() -> None:
    with pytest.raises(PermanentError, match=r"apt-get install apertium-eng-cat, or configure"):
        run({"text": "Hello", "source_lang": "en", "target_lang": "ca"})
    with pytest.raises(PermanentError, match="Debian packages no such pair: configure a language"):
        run({"text": "Hello", "source_lang": "en", "target_lang": "de"})


@needs_apertium
def test_the_installed_pairs_are_what_translation_offers_offline() -> None:
    assert Translation.capabilities(None)["pairs"] == ["eng-spa", "spa-eng"]


def test_with_a_model_translation_offers_the_model_not_pairs() -> None:
    assert Translation.capabilities(ScriptedChatModel([], model="m1")) == {
        "engine": "llm:m1",
        "models": ["m1"],
    }


def test_without_apertium_translation_offers_no_pairs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert Translation.capabilities(None)["pairs"] == []


def test_citations_pass_through_a_translation_unchanged() -> None:
    model = ScriptedChatModel([], model="m1", default=echo_upper)
    out = run(
        {"text": "Hello", "source_lang": "en", "target_lang": "es", "citations": ["a"]}, model
    )
    assert out.citations == ["a"] and out.text == "HELLO"


@needs_apertium
def test_apertium_keeps_lines_paragraphs_and_indentation_exactly() -> None:
    out = run({"text": ARTICLE, "source_lang": "en", "target_lang": "es"})
    assert (out.source_lang, out.target_lang, out.engine) == ("eng", "spa", "apertium")
    assert layout(out.text) == layout(ARTICLE)
    lines = out.text.split("\n")
    # Each line is translated as a sentence of its own: the headline does not run on into
    # the next line (the `apertium` command on the whole text gives "las facturas", in
    # lower case, as the headline's continuation), and sentence-final periods stay.
    assert lines[0] == "Reinicialización una contraseña olvidada"
    assert lines[1].endswith("campo de contraseña.") and lines[2].endswith("una hora.")
    assert lines[5] == "Las facturas están enviadas en el primer día de cada mes"
    assert lines[6].startswith("  - ") and lines[6].endswith("página de enunciar.")
    assert lines[8] == "El coche rojo es rápidamente" and out.text.endswith("\n")
    assert "*" not in out.text  # unknown-word marks dropped


@needs_apertium
def test_apertium_output_matches_translating_each_line_alone() -> None:
    lines = [line.strip() for line in ARTICLE.splitlines() if line.strip()]
    pair = apertium.pairs()["eng", "spa"]
    together = apertium.translate(pair, lines)
    alone = [apertium.translate(pair, [line])[0] for line in lines]
    assert together == alone


@needs_apertium
def test_a_long_text_comes_back_in_order() -> None:
    numbered = [f"Paragraph {i}\nThe house number {i} is red." for i in range(5_000)]
    text = "\n\n".join(numbered)
    assert len(text) > 200_000
    fractions: list[float | None] = []
    context = StepContext(
        job_id="j",
        step_id="s",
        attempt=1,
        agent="translation",
        report=lambda fraction, message: fractions.append(fraction),
    )
    out = Translation().run(
        TranslationInput(text=text, source_lang="en", target_lang="es"), context
    )
    paragraphs = out.text.split("\n\n")
    assert len(paragraphs) == 5_000
    for i in (0, 1, 2_500, 4_999):
        assert paragraphs[i].split("\n") == [f"Párrafo {i}", f"El número de casa {i} es rojo."]
    assert len(fractions) > 1 and fractions[-1] == 1.0  # batches, with progress


@needs_apertium
def test_offline_source_detection_by_analyser_coverage() -> None:
    out = run({"text": "El coche rojo es muy rápido.", "target_lang": "en"})
    assert out.source_lang == "spa" and out.text == "The red car is very fast."
    with pytest.raises(PermanentError, match="give source_lang"):
        run({"text": "Zxqv blorf quux snarb.", "target_lang": "en"})


def echo_upper(messages: Sequence[Message]) -> str:
    lines = json.loads(messages[-1].content)["lines"]
    return json.dumps({"lines": [line.upper() for line in lines]})


def test_the_model_path_detects_the_language_and_keeps_the_layout() -> None:
    model = ScriptedChatModel(['{"language": "en"}'], model="m1", default=echo_upper)
    out = run({"text": ARTICLE, "target_lang": "es"}, model)
    assert out == TranslationOutput(
        text=ARTICLE.upper(), source_lang="eng", target_lang="spa", engine="llm:m1"
    )
    detect, translate = model.calls
    assert detect["messages"][-1].content == ARTICLE
    assert "from English to Spanish" in translate["messages"][0].content
    assert json.loads(translate["messages"][-1].content)["lines"][0] == "Reset a forgotten password"
    assert translate["response_format"] == "json_schema"


def test_a_model_that_miscounts_lines_is_asked_segment_by_segment() -> None:
    merged = json.dumps({"lines": ["UNA LÍNEA"]})
    model = ScriptedChatModel([merged], default=echo_upper)
    out = run({"text": "one\n\ntwo\nthree", "source_lang": "en", "target_lang": "es"}, model)
    assert out.text == "ONE\n\nTWO\nTHREE"
    assert len(model.calls) == 4  # the batch, then each of its three segments


def test_a_line_break_inside_a_model_translation_cannot_shift_the_lines() -> None:
    model = ScriptedChatModel([json.dumps({"lines": ["uno\ndos", "tres"]})])
    out = run({"text": "one two\nthree", "source_lang": "en", "target_lang": "es"}, model)
    assert out.text == "uno dos\ntres"


def test_text_already_in_the_target_language_comes_back_unchanged() -> None:
    model = ScriptedChatModel(['{"language": "es"}'])
    out = run({"text": "Hola\nmundo", "target_lang": "spa"}, model)
    assert (out.text, out.source_lang, len(model.calls)) == ("Hola\nmundo", "spa", 1)


def test_an_unknown_detected_language_is_a_clear_error() -> None:
    model = ScriptedChatModel(['{"language": "elvish"}'])
    with pytest.raises(PermanentError, match="'elvish', which is not a language code"):
        run({"text": "Mae govannen", "target_lang": "en"}, model)


def test_a_cancelled_job_stops_translating_between_batches() -> None:
    model = ScriptedChatModel([], default='{"lines": ["hola"]}')
    context = StepContext(
        job_id="j",
        step_id="s",
        attempt=1,
        agent="translation",
        model=model,
        is_cancelled=lambda: True,
    )
    payload = TranslationInput.model_validate(
        {"text": "hello", "source_lang": "en", "target_lang": "es"}
    )
    with pytest.raises(StepCancelled, match="its job was cancelled"):
        Translation().run(payload, context)
    assert model.calls == []
