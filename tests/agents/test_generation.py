"""The generation agent: extractive offline path, and the model path with a scripted model."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agents import PermanentError, StepContext
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
    assert out == GenerationOutput(
        text='The documents do not answer this: "what is the refund policy". '
        'They do not mention "refund", "policy".',
        citations=[],
        answered=False,
    )


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
        [
            '{"answered": true, "text": "Use the Forgot password link.", "short_answer": '
            '"the Forgot password link", "citations": ["faq-1", "made-up", "faq-1"]}'
        ]
    )
    out = run({"instruction": "How do I reset my password?", "context": FAQ}, model)
    assert out == GenerationOutput(
        text="Use the Forgot password link.",
        citations=["faq-1"],
        short_answer="the Forgot password link",
    )
    [call] = model.calls
    prompt = call["messages"][-1].content
    passages, instruction = prompt.removeprefix("Passages (JSON):\n").rsplit("\n\n", 1)
    assert {"id": "faq-2", "title": "Invoices"}.items() <= json.loads(passages)[1].items()
    assert instruction == "Instruction: How do I reset my password?"
    assert call["response_format"] == "json_schema"


def test_the_model_path_needs_no_context() -> None:
    model = ScriptedChatModel(
        ['{"answered": true, "text": "Autumn leaves fall", "short_answer": "", "citations": ["x"]}']
    )
    out = run({"instruction": "write a haiku"}, model)
    assert out == GenerationOutput(text="Autumn leaves fall", citations=[])


def test_the_model_says_when_the_passages_do_not_hold_the_answer() -> None:
    model = ScriptedChatModel(
        [
            '{"answered": false, "text": "The documents do not say.", "short_answer": "x", '
            '"citations": ["faq-2"]}'
        ]
    )
    out = run({"instruction": "How much is the Pro plan?", "context": FAQ}, model)
    assert out == GenerationOutput(text="The documents do not say.", citations=[], answered=False)
    assert "set `answered` to false" in model.calls[0]["messages"][0].content


def test_a_request_for_a_summary_of_the_whole_picks_the_most_central_sentences() -> None:
    text = (
        "The rover landed on Mars in the morning. Engineers cheered. "
        "The Mars rover then sent pictures of the Mars surface home. Lunch was pasta."
    )
    summary = run({"instruction": "Summarize the text.", "context": text, "max_words": 20})
    assert "Mars" in summary.text and "pasta" not in summary.text
    assert summary.citations == ["context"] and summary.answered
    jupiter = run({"instruction": "What about Jupiter?", "context": text, "max_words": 20})
    assert not jupiter.answered and jupiter.citations == []
