"""``celeriac eval qa``, ``summarization`` and ``faithfulness``: the generation agent's
answers and summaries, measured against references and their sources."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from agents.scoring.metrics import roc_auc, rouge_l, squad_exact_match, squad_f1
from orchestrator.client import Client
from orchestrator.embedded.deployment import temporary_documents
from orchestrator.eval.datasets import Question
from orchestrator.eval.retrieval import search_step
from orchestrator.eval.runs import Failures, Over, Report, run_jobs, scored, step_output
from orchestrator.models import Plan, Step


def evaluate_qa(
    client: Client,
    paragraphs: Sequence[Any],
    questions: Sequence[Question],
    *,
    k: int,
    over: Over = "all",
    console: Console,
) -> Report:
    """SQuAD's exact match and F1 of the answers, and the recall of the gold paragraph."""
    started = time.monotonic()
    with temporary_documents(client.settings.data_dir, paragraphs, prefix="eval") as collection:
        plans = [_qa_plan(q.question, collection, k) for q in questions]
        if plans:
            client.check_ready(plans[0])
        results = run_jobs(client, plans, console, "questions")
    failures = Failures()
    scores = []
    for question, result in zip(questions, results, strict=True):
        answer, error = step_output(result, "answer")
        hits, _ = step_output(result, "search")
        if answer is None:
            failures.add(error)
        scores.append(_qa_item(question, answer, hits))
    failures.require_some(len(questions), "questions")

    metrics = _qa_metrics(scores, over, k)
    answerable = sum(item.answerable for item in scores)
    return Report(
        task="qa",
        metrics=metrics,
        items=len(questions),
        failures=failures,
        over=over,
        details={
            "k": k,
            "paragraphs": len(paragraphs),
            "answerable": answerable,
            "unanswerable": len(scores) - answerable,
        },
        per_item={"f1": scored([i.f1 for i in scores], [not i.failed for i in scores], over)},
        seconds=time.monotonic() - started,
    )


def _qa_plan(question: str, collection: str, k: int) -> Plan:
    answer = Step(
        id="answer",
        agent="generation",
        input={
            "instruction": question,
            "context": {"$from": "search", "path": "hits"},
            "max_words": 40,
        },
    )
    return Plan(steps=[search_step(question, collection, k), answer], answer_from="answer")


def _qa_metrics(scores: Sequence[_QaItem], over: Over, k: int) -> dict[str, float]:
    """Short-answer EM and F1 over every question; citations, paragraphs and whole answers
    over the answerable ones; abstention precision and recall when some are not."""

    def mean(values: Sequence[float], items: Sequence[_QaItem]) -> float:
        return _mean(scored(values, [not i.failed for i in items], over))

    answerable = [item for item in scores if item.answerable]
    unanswerable = [item for item in scores if not item.answerable]
    abstained = [item for item in scores if item.abstained]
    cited = [item for item in scores if item.cited]
    metrics = {
        "exact_match": mean([i.em for i in scores], scores),
        "f1": mean([i.f1 for i in scores], scores),
        "f1_whole_answer": mean([i.f1_text for i in answerable], answerable),
        "citation_precision": mean([i.precision for i in cited], cited),
        "citation_recall": mean([i.recall for i in answerable], answerable),
        f"paragraph_recall@{k}": mean([i.found for i in answerable], answerable),
        "abstained": len(abstained) / len(scores) if scores else 0.0,
        "words_per_answer": _mean([i.words for i in scores if not i.failed]),
    }
    if unanswerable:
        right = sum(not item.answerable for item in abstained)
        metrics["abstention_precision"] = right / len(abstained) if abstained else 0.0
        metrics["abstention_recall"] = right / len(unanswerable)
    return metrics


@dataclass(frozen=True)
class _QaItem:
    answerable: bool
    failed: bool
    abstained: bool
    em: float  # of the short answer (an unanswerable question: 1 for an abstention)
    f1: float
    f1_text: float  # of the whole answer text
    cited: bool
    precision: float  # of the citations: the share that are the question's paragraph
    recall: float  # whether the question's paragraph is cited
    found: float  # whether retrieval found it
    words: int


def _qa_item(
    question: Question, output: dict[str, Any] | None, search: dict[str, Any] | None
) -> _QaItem:
    answer = output or {}
    hits = (search or {}).get("hits", [])
    abstained = answer.get("answered") is False
    text = str(answer.get("text", ""))
    short = "" if abstained else str(answer.get("short_answer") or text)
    cited = [str(c) for c in answer.get("citations", [])]
    if question.answers:
        em = squad_exact_match(short, question.answers)
        f1 = squad_f1(short, question.answers)
        f1_text = squad_f1("" if abstained else text, question.answers)
    else:  # SQuAD 2.0: the right answer to an unanswerable question is none
        em = f1 = f1_text = float(abstained)
    return _QaItem(
        answerable=bool(question.answers),
        failed=not answer,
        abstained=abstained,
        em=em,
        f1=f1,
        f1_text=f1_text,
        cited=bool(cited),
        precision=sum(c == question.paragraph for c in cited) / len(cited) if cited else 0.0,
        recall=float(question.paragraph in cited),
        found=float(question.paragraph in {h["id"] for h in hits}),
        words=len(text.split()),
    )


def evaluate_summarization(
    client: Client,
    pairs: Sequence[tuple[str, list[str]]],
    *,
    max_words: int,
    over: Over = "all",
    console: Console,
) -> Report:
    """ROUGE-L against the references (the best of them) and faithfulness to the text."""
    from agents.generation import Passage
    from agents.scoring.generation import faithfulness

    started = time.monotonic()
    instruction = {"instruction": "Summarize the text.", "max_words": max_words}
    plans = [
        Plan(steps=[Step(id="summary", agent="generation", input={**instruction, "context": text})])
        for text, _ in pairs
    ]
    if plans:
        client.check_ready(plans[0])
    results = run_jobs(client, plans, console, "texts")
    rouge, faithful, ok = [], [], []
    failures = Failures()
    for (text, references), result in zip(pairs, results, strict=True):
        output, error = step_output(result, "summary")
        if output is None:
            failures.add(error)
        ok.append(output is not None)
        summary = str(output["text"]) if output else ""
        rouge.append(max(rouge_l(summary, reference) for reference in references))
        faithful.append(faithfulness(summary, [Passage(id="text", text=text)]) if summary else 0.0)
    failures.require_some(len(pairs), "texts")
    rouge, faithful = scored(rouge, ok, over), scored(faithful, ok, over)
    return Report(
        task="summarization",
        metrics={"rougeL": _mean(rouge), "faithfulness": _mean(faithful)},
        items=len(pairs),
        failures=failures,
        over=over,
        details={"max_words": max_words},
        per_item={"rougeL": rouge, "faithfulness": faithful},
        seconds=time.monotonic() - started,
    )


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def evaluate_faithfulness(claims: Sequence[tuple[str, str, bool]]) -> Report:
    """The faithfulness score of each claim against its document, by label, and the ROC
    AUC of telling the two apart (0.5 = chance)."""
    from agents.generation import Passage
    from agents.scoring.generation import faithfulness

    started = time.monotonic()
    scores = [(faithfulness(claim, [Passage(id="d", text=doc)]), ok) for doc, claim, ok in claims]
    good = [value for value, ok in scores if ok]
    bad = [value for value, ok in scores if not ok]
    auc = roc_auc(good, bad)
    return Report(
        task="faithfulness",
        metrics={"auc": auc, "mean_consistent": _mean(good), "mean_inconsistent": _mean(bad)},
        items=len(claims),
        details={"consistent": len(good), "inconsistent": len(bad), "method": "lexical"},
        per_item={"faithfulness": [value for value, _ in scores]},
        seconds=time.monotonic() - started,
    )
