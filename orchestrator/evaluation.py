"""Evaluations: benchmark items run as jobs on workers (the real path), then measured.

Each evaluation indexes what it needs into a collection of its own, submits one job per
item (all at once: workers run them in parallel), waits for them with a progress bar, and
measures what came back with ``orchestrator.metrics``. A job that fails counts as an empty
answer, and the report says how many did.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from orchestrator.client import Client
from orchestrator.datasets import Question, RetrievalSet
from orchestrator.embedded import Embedded, temporary_documents
from orchestrator.errors import UserError
from orchestrator.metrics import (
    per_query_metrics,
    rouge_l,
    squad_exact_match,
    squad_f1,
    translation_metrics,
)
from orchestrator.models import JobResult, Plan, Step
from orchestrator.settings import Settings

MAX_DEPTH = 100  # the retrieval agent returns at most 100 hits


@dataclass
class Report:
    """What an evaluation measured: metrics, per-item values for plots, and counts."""

    task: str
    metrics: dict[str, float]
    items: int
    failed: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    per_item: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metrics": {name: round(value, 4) for name, value in self.metrics.items()},
            "items": self.items,
            "failed": self.failed,
            "seconds": round(self.seconds, 2),
            **self.details,
        }


@contextlib.contextmanager
def deployment(settings: Settings) -> Iterator[Settings]:
    """The deployment at CELERIAC_REDIS_URL, else one of this process's own."""
    if settings.redis_url:
        yield settings
        return
    with Embedded(settings) as live:
        yield live


def run_jobs(
    client: Client, plans: Sequence[Plan], console: Console, label: str
) -> list[JobResult]:
    """Submit every plan, then wait for each job, showing how many have ended."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        submitting = progress.add_task(f"submitting {label}", total=len(plans))
        handles = []
        for plan in plans:
            handles.append(client.submit(plan))
            progress.advance(submitting)
        running = progress.add_task(f"running {label}", total=len(handles))
        results = []
        for handle in handles:
            results.append(handle.wait())
            progress.advance(running)
    return results


def _step_output(result: JobResult, step_id: str) -> dict[str, Any] | None:
    step = result.steps.get(step_id)
    if step is None or step.status != "succeeded" or not isinstance(step.output, dict):
        return None
    return step.output


def evaluate_retrieval(
    client: Client, data: RetrievalSet, *, k: int, mode: str, console: Console
) -> tuple[Report, dict[str, list[tuple[str, float]]]]:
    """trec_eval's measures over the judged queries; also the ranking (the run) per query."""
    started = time.monotonic()
    judged = data.judged
    data_dir = client.settings.data_dir
    dense = mode != "bm25"
    if dense:
        from agents import dense as dense_extra
        from agents.errors import PermanentError

        try:
            dense_extra.require()
        except PermanentError as exc:
            raise UserError(str(exc)) from None
    with temporary_documents(
        data_dir, data.documents, prefix="eval", embeddings=dense
    ) as collection:
        plans = [
            Plan(
                steps=[
                    Step(
                        id="search",
                        agent="retrieval",
                        input={
                            "query": text,
                            "collection": collection,
                            "k": MAX_DEPTH,
                            "mode": mode,
                        },
                    )
                ],
                answer_from="search",
            )
            for text in judged.values()
        ]
        results = run_jobs(client, plans, console, "queries")
    rankings: dict[str, list[tuple[str, float]]] = {}
    failed = 0
    for qid, result in zip(judged, results, strict=True):
        output = _step_output(result, "search")
        failed += output is None
        rankings[qid] = [(hit["id"], float(hit["score"])) for hit in (output or {}).get("hits", [])]
    # Scores by rank keep celeriac's order exactly (trec_eval breaks score ties by doc id).
    run = {
        qid: {doc: float(MAX_DEPTH - rank) for rank, (doc, _) in enumerate(hits)}
        for qid, hits in rankings.items()
    }
    table = per_query_metrics({q: data.qrels[q] for q in judged}, run, k)
    report = Report(
        task="retrieval",
        metrics={name: values["all"] for name, values in table.items()},
        items=len(judged),
        failed=failed,
        details={
            "k": k,
            "mode": mode,
            "documents": len(data.documents),
            "queries_total": len(data.queries),
        },
        per_item={
            name: [v for q, v in values.items() if q != "all"] for name, values in table.items()
        },
        seconds=time.monotonic() - started,
    )
    return report, rankings


def evaluate_translation(
    client: Client,
    sources: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    source_lang: str,
    target_lang: str,
    batch: int,
    console: Console,
) -> tuple[Report, list[str]]:
    """Corpus BLEU and chrF of the translations; the translations, line by line."""
    started = time.monotonic()
    chunks = [list(sources[i : i + batch]) for i in range(0, len(sources), batch)]
    plans = [
        Plan(
            steps=[
                Step(
                    id="translate",
                    agent="translation",
                    input={
                        "text": "\n".join(chunk),
                        "source_lang": source_lang,
                        "target_lang": target_lang,
                    },
                )
            ]
        )
        for chunk in chunks
    ]
    results = run_jobs(client, plans, console, f"batches of {batch} lines")
    hypotheses: list[str] = []
    failed = 0
    for chunk, result in zip(chunks, results, strict=True):
        output = _step_output(result, "translate")
        lines = str(output["text"]).split("\n") if output else []
        if len(lines) != len(chunk):
            failed += len(chunk)
            lines = [""] * len(chunk)
        hypotheses.extend(lines)
    measured = translation_metrics(hypotheses, references)
    report = Report(
        task="translation",
        metrics=measured,
        items=len(sources),
        failed=failed,
        details={
            "source_lang": source_lang,
            "target_lang": target_lang,
            "references": len(references),
        },
        seconds=time.monotonic() - started,
    )
    return report, hypotheses


def evaluate_qa(
    client: Client,
    paragraphs: Sequence[Any],
    questions: Sequence[Question],
    *,
    k: int,
    console: Console,
) -> Report:
    """SQuAD's exact match and F1 of the answers, and the recall of the gold paragraph."""
    started = time.monotonic()
    with temporary_documents(client.settings.data_dir, paragraphs, prefix="eval") as collection:
        plans = [
            Plan(
                steps=[
                    Step(
                        id="search",
                        agent="retrieval",
                        input={"query": q.question, "collection": collection, "k": k},
                    ),
                    Step(
                        id="answer",
                        agent="generation",
                        input={
                            "instruction": q.question,
                            "context": {"$from": "search", "path": "hits"},
                            "max_words": 40,
                        },
                    ),
                ],
                answer_from="answer",
            )
            for q in questions
        ]
        results = run_jobs(client, plans, console, "questions")
    scores = [_qa_item(q, result) for q, result in zip(questions, results, strict=True)]
    answerable = [item for item in scores if item.answerable]
    unanswerable = [item for item in scores if not item.answerable]
    abstained = [item for item in scores if item.abstained]
    metrics = {
        "exact_match": _mean([item.em for item in scores]),
        "f1": _mean([item.f1 for item in scores]),
        "f1_whole_answer": _mean([item.f1_text for item in answerable]),
        "citation_precision": _mean([item.precision for item in scores if item.cited]),
        "citation_recall": _mean([item.recall for item in answerable]),
        f"paragraph_recall@{k}": _mean([item.found for item in answerable]),
        "abstained": len(abstained) / len(scores) if scores else 0.0,
        "words_per_answer": _mean([item.words for item in scores if not item.failed]),
    }
    if unanswerable:
        right = sum(not item.answerable for item in abstained)
        metrics["abstention_precision"] = right / len(abstained) if abstained else 0.0
        metrics["abstention_recall"] = right / len(unanswerable)
    return Report(
        task="qa",
        metrics=metrics,
        items=len(questions),
        failed=sum(item.failed for item in scores),
        details={
            "k": k,
            "paragraphs": len(paragraphs),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
        },
        per_item={"f1": [item.f1 for item in scores]},
        seconds=time.monotonic() - started,
    )


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


def _qa_item(question: Question, result: JobResult) -> _QaItem:
    answer = _step_output(result, "answer") or {}
    hits = (_step_output(result, "search") or {}).get("hits", [])
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
    client: Client, pairs: Sequence[tuple[str, list[str]]], *, max_words: int, console: Console
) -> Report:
    """ROUGE-L against the references (the best of them) and faithfulness to the text."""
    from agents.generation import Passage
    from orchestrator.scorers.generation import faithfulness

    started = time.monotonic()
    plans = [
        Plan(
            steps=[
                Step(
                    id="summary",
                    agent="generation",
                    input={
                        "instruction": "Summarize the text.",
                        "context": text,
                        "max_words": max_words,
                    },
                )
            ]
        )
        for text, _ in pairs
    ]
    results = run_jobs(client, plans, console, "texts")
    rouge, faithful = [], []
    failed = 0
    for (text, references), result in zip(pairs, results, strict=True):
        output = _step_output(result, "summary")
        failed += output is None
        summary = str(output["text"]) if output else ""
        rouge.append(max(rouge_l(summary, reference) for reference in references))
        faithful.append(faithfulness(summary, [Passage(id="text", text=text)]) if summary else 0.0)
    return Report(
        task="summarization",
        metrics={"rougeL": _mean(rouge), "faithfulness": _mean(faithful)},
        items=len(pairs),
        failed=failed,
        details={"max_words": max_words},
        per_item={"rougeL": rouge, "faithfulness": faithful},
        seconds=time.monotonic() - started,
    )


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def evaluate_faithfulness(claims: Sequence[tuple[str, str, bool]]) -> Report:
    """The faithfulness score of each claim against its document, by label, and the ROC
    AUC of telling the two apart (0.5 = chance)."""
    from scipy.stats import mannwhitneyu

    from agents.generation import Passage
    from orchestrator.scorers.generation import faithfulness

    started = time.monotonic()
    scores = [(faithfulness(claim, [Passage(id="d", text=doc)]), ok) for doc, claim, ok in claims]
    good = [value for value, ok in scores if ok]
    bad = [value for value, ok in scores if not ok]
    auc = float(mannwhitneyu(good, bad).statistic) / (len(good) * len(bad)) if good and bad else 0.5
    return Report(
        task="faithfulness",
        metrics={"auc": auc, "mean_consistent": _mean(good), "mean_inconsistent": _mean(bad)},
        items=len(claims),
        details={"consistent": len(good), "inconsistent": len(bad), "method": "lexical"},
        per_item={"faithfulness": [value for value, _ in scores]},
        seconds=time.monotonic() - started,
    )
