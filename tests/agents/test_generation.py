"""The generation agent: extractive offline path, and the model path with a scripted model."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agents import PermanentError, StepContext
from agents.extractive import split_sentences, summarize
from agents.generation import Generation, GenerationInput, GenerationOutput
from agents.llm import ScriptedChatModel

FAQ = [
    {
        "id": "faq-1",
        "title": "Resetting a password",
        "text": "Open the login page. Click the Forgot password link. We e-mail you a reset link "
        "that works for one hour.",
    },
    {"id": "faq-2", "title": "Invoices", "text": "Invoices are sent on the first of the month."},
    {
        "id": "faq-3",
        "title": "Accounts",
        "text": "A forgotten password can be reset from the login page with the Forgot password "
        "link.",
    },
]


def run(payload: dict[str, object], model: ScriptedChatModel | None = None) -> GenerationOutput:
    context = StepContext(job_id="j", step_id="s", attempt=1, agent="generation", model=model)
    return Generation().run(GenerationInput.model_validate(payload), context)


def test_offline_answers_from_the_relevant_sentences_and_cites_them() -> None:
    out = run({"instruction": "How do I reset my forgotten password?", "context": FAQ})
    assert "Forgot password" in out.text
    assert "Invoices" not in out.text
    assert out.citations and set(out.citations) <= {"faq-1", "faq-3"}


def test_offline_keeps_to_max_words_and_drops_repeats() -> None:
    out = run({"instruction": "reset forgotten password", "context": FAQ, "max_words": 20})
    assert len(out.text.replace(" …", "").split()) <= 20
    # faq-1's link sentence and faq-3 say the same thing: only one of them is kept.
    assert out.text.count("Forgot password link") == 1


def test_a_plain_text_context_is_cited_as_context() -> None:
    out = run({"instruction": "when are invoices sent", "context": FAQ[1]["text"]})
    assert out.citations == ["context"]
    assert "first of the month" in out.text


def test_offline_says_so_when_the_passages_do_not_cover_the_instruction() -> None:
    out = run({"instruction": "what is the refund policy", "context": FAQ[1:2]})
    assert out == GenerationOutput(text="The given passages say nothing about this.", citations=[])


def test_offline_without_context_is_a_clear_error() -> None:
    with pytest.raises(PermanentError, match="needs context passages"):
        run({"instruction": "write a haiku"})


@pytest.mark.parametrize(
    "payload",
    [
        {"instruction": "   "},
        {"instruction": "x", "max_words": 0},
        {"instruction": "x", "colour": "red"},
    ],
)
def test_bad_input_is_refused(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GenerationInput.model_validate(payload)


def test_the_model_path_grounds_the_answer_and_filters_citations() -> None:
    model = ScriptedChatModel(
        ['{"text": "Use the Forgot password link.", "citations": ["faq-1", "made-up", "faq-1"]}']
    )
    out = run({"instruction": "How do I reset my password?", "context": FAQ}, model)
    assert out == GenerationOutput(text="Use the Forgot password link.", citations=["faq-1"])
    [call] = model.calls
    prompt = call["messages"][-1].content
    passages, instruction = prompt.removeprefix("Passages (JSON):\n").rsplit("\n\n", 1)
    assert {"id": "faq-2", "title": "Invoices"}.items() <= json.loads(passages)[1].items()
    assert instruction == "Instruction: How do I reset my password?"
    assert call["response_format"] == "json_schema"


def test_the_model_path_needs_no_context() -> None:
    model = ScriptedChatModel(['{"text": "Autumn leaves fall", "citations": ["x"]}'])
    out = run({"instruction": "write a haiku"}, model)
    assert out == GenerationOutput(text="Autumn leaves fall", citations=[])


def test_sentences_split_on_ends_and_line_breaks_not_abbreviations() -> None:
    sentences = split_sentences([("p", 'He said "stop." Then left.\nNew line e.g. this one.')])
    assert [s.text for s in sentences] == [
        'He said "stop."',
        "Then left.",
        "New line e.g. this one.",
    ]


def test_markdown_heading_marks_are_not_part_of_a_sentence() -> None:
    sentences = split_sentences([("p", "# Reset a password\nOpen the page.")])
    assert [s.text for s in sentences] == ["Reset a password", "Open the page."]


def test_summarize_without_any_matching_word_is_empty() -> None:
    assert summarize("zebra", [("p", "Nothing relevant here.")], 50) == ("", [])


def test_a_request_for_a_summary_of_the_whole_picks_the_most_central_sentences() -> None:
    from agents.extractive import summarize

    text = (
        "The rover landed on Mars in the morning. Engineers cheered. "
        "The Mars rover then sent pictures of the Mars surface home. Lunch was pasta."
    )
    summary, cited = summarize("Summarize the text.", [("doc", text)], max_words=20)
    assert "Mars" in summary and "pasta" not in summary
    assert cited == ["doc"]
    assert summarize("What about Jupiter?", [("doc", text)], max_words=20) == ("", [])
