"""The built-in agents' ``score`` hooks, and the job's score, without Redis."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from agents.base import Agent, StepContext
from agents.errors import PermanentError
from agents.generation import Generation, GenerationInput, GenerationOutput
from agents.llm import ScriptedChatModel
from agents.retrieval import Hit, Retrieval, RetrievalInput, RetrievalOutput
from agents.scoring import Score, ScoreContext
from agents.translation import Translation, TranslationInput, TranslationOutput
from orchestrator.models import JobResult, StepResult, job_score

STEP = StepContext(job_id="j", step_id="s", attempt=1, agent="test")


class Reverser(Translation):
    """Translates by reversing the words: its round trip is exact."""

    def run(self, input: TranslationInput, context: StepContext) -> TranslationOutput:
        text = " ".join(reversed(input.text.split()))
        return TranslationOutput(
            text=text,
            source_lang=input.source_lang or "eng",
            target_lang=input.target_lang,
            engine="reverser",
        )


class NoWayBack(Reverser):
    def run(self, input: TranslationInput, context: StepContext) -> TranslationOutput:
        if input.target_lang == "eng":
            raise PermanentError("no pair spa -> eng")
        return super().run(input, context)


AGENTS: dict[str, Agent] = {
    "retrieval": Retrieval(),
    "generation": Generation(),
    "translation": Reverser(),
}


def score_step(
    kind: str | Agent, input: BaseModel, output: BaseModel, reference: Any, model: Any = None
) -> list[Score]:
    agent = AGENTS[kind] if isinstance(kind, str) else kind
    return agent.score(input, output, reference, ScoreContext(step=STEP, model=model))


def scored(
    kind: str | Agent, input: BaseModel, output: BaseModel, reference: Any = None, **kw: Any
) -> dict[str, Score]:
    return {s.name: s for s in score_step(kind, input, output, reference, **kw)}


HITS = RetrievalOutput(
    hits=[
        Hit(id="a", title="Reset a password", text="Choose Forgot password.", score=3.0),
        Hit(id="b", title="Billing", text="Invoices are sent monthly.", score=2.0),
    ]
)
QUERY = RetrievalInput(query="reset password", collection="demo", k=2)


def test_retrieval_with_judgments_gets_trec_eval_measures_ndcg_first() -> None:
    scores = score_step("retrieval", QUERY, HITS, {"relevant": {"b": 1, "z": 2}}, None)
    assert [s.name for s in scores] == ["ndcg@2", "p@2", "recall@2", "f1@2", "map", "mrr"]
    values = {s.name: s.value for s in scores}
    assert values["p@2"] == 0.5 and values["recall@2"] == 0.5 and values["mrr"] == 0.5
    assert all(s.method == "trec_eval" and not s.proxy for s in scores)


def test_retrieval_without_judgments_gets_a_labelled_lexical_proxy() -> None:
    coverage = scored("retrieval", QUERY, HITS)["query_coverage@2"]
    assert coverage.proxy and coverage.method == "lexical"
    assert coverage.value == pytest.approx((1.0 + 0.0) / 2)  # hit a has both words, b none


def test_retrieval_with_a_model_is_judged_hit_by_hit() -> None:
    model = ScriptedChatModel([json.dumps({"relevant": [True, False]})])
    judged = scored("retrieval", QUERY, HITS, model=model)["judged_precision@2"]
    assert judged.value == 0.5 and judged.method == "llm:scripted" and not judged.proxy
    assert "Invoices are sent monthly." in model.calls[0]["messages"][1].content


SOURCE = TranslationInput(text="the cat is home", source_lang="en", target_lang="es")
DONE = TranslationOutput(
    text="el gato está en casa", source_lang="eng", target_lang="spa", engine="apertium"
)


def test_translation_with_references_gets_chrf_and_bleu() -> None:
    scores = scored("translation", SOURCE, DONE, {"texts": ["el gato está en casa"]})
    assert scores["chrf"].value == pytest.approx(1.0) and scores["bleu"].value == pytest.approx(1.0)
    assert scores["chrf"].method == "sacrebleu" and not scores["chrf"].proxy


def test_translation_without_references_is_translated_back_and_compared_as_a_proxy() -> None:
    reversed_once = TranslationOutput(
        text="home is cat the", source_lang="eng", target_lang="spa", engine="reverser"
    )
    back = scored("translation", SOURCE, reversed_once)["round_trip_chrf"]
    assert back.value == pytest.approx(1.0) and back.proxy
    assert scored(NoWayBack(), SOURCE, reversed_once) == {}


def test_translation_with_a_model_is_judged() -> None:
    model = ScriptedChatModel([json.dumps({"rating": 4})])
    judged = scored("translation", SOURCE, DONE, model=model)["judged_quality"]
    assert judged.value == 0.75 and judged.method == "llm:scripted"


PASSAGES = [
    {
        "id": "pw",
        "text": "Open the sign-in page and choose Forgot password. The link works for an hour.",
    },
    {"id": "bill", "text": "Invoices are sent on the first day of the month."},
]


def test_generation_is_always_scored_for_relevance_faithfulness_and_coverage() -> None:
    ask = GenerationInput.model_validate(
        {"instruction": "How do I reset a forgotten password?", "context": PASSAGES}
    )
    answer = GenerationOutput(
        text="Choose Forgot password on the sign-in page. Then call the dragon hotline.",
        citations=["pw"],
    )
    scores = score_step("generation", ask, answer, None, None)
    assert [s.name for s in scores] == ["answer_relevance", "faithfulness", "coverage"]
    # Half the answer is off the question: the dragon hotline shares no word with it.
    assert 0 < scores[0].value <= 0.5
    # Of the first sentence's 7 word pairs, 5 are in the cited passage ("password on" and
    # "on the" are not); the dragon hotline is in no passage at all.
    assert scores[1].value == pytest.approx((5 / 7 + 0) / 2)
    assert scores[2].value == pytest.approx(1 / 3)  # of reset, forgotten, password: password
    assert all(s.proxy for s in scores)


def test_generation_with_a_reference_gets_rouge_l_after_relevance_and_a_model_judges_it() -> None:
    ask = GenerationInput.model_validate(
        {"instruction": "How do I reset a forgotten password?", "context": PASSAGES}
    )
    answer = GenerationOutput(text="Choose Forgot password.", citations=["pw"])
    model = ScriptedChatModel([json.dumps({"rating": 5})])
    scores = score_step("generation", ask, answer, {"text": "Choose Forgot password."}, model=model)
    assert [s.name for s in scores] == [
        "answer_relevance",
        "rougeL",
        "faithfulness",
        "coverage",
        "judged_quality",
    ]
    assert scores[1].value == pytest.approx(1.0) and scores[-1].value == 1.0


def test_an_agent_type_scores_nothing_unless_its_score_hook_says_how() -> None:
    class Echo(Agent):
        name = "echo"
        description = "test double"
        Input = RetrievalInput
        Output = RetrievalOutput

    assert score_step(Echo(), QUERY, HITS, None) == []


def test_a_built_in_scorer_raises_on_a_bad_reference_the_worker_turns_into_no_scores() -> None:
    bad_judgments = {"relevant": {"a": "very"}}  # a grade must be a number
    with pytest.raises(ValueError):
        score_step("retrieval", QUERY, HITS, bad_judgments)


def test_the_job_score_is_the_mean_of_the_scored_steps_main_scores() -> None:
    def step(status: str, *values: float) -> StepResult:
        return StepResult(
            status=status,  # type: ignore[arg-type]
            agent="x",
            scores=[Score(name=f"m{i}", value=v, method="t") for i, v in enumerate(values)],
        )

    result = JobResult(
        job_id="j",
        status="succeeded",
        steps={
            "a": step("succeeded", 0.8, 0.1),
            "b": step("succeeded", 0.4),
            "c": step("succeeded"),  # not scored
            "d": step("failed", 0.0),
        },
    )
    assert job_score(result) == pytest.approx(0.6)
    assert job_score(result, skip={"a"}) == pytest.approx(0.4)
    assert job_score(JobResult(job_id="j", status="failed")) is None
