"""Evaluations: benchmark items run as jobs on workers (the real path), then measured.

Each evaluation indexes what it needs into a collection of its own, checks that a live
worker can run its steps (``Client.check_ready``: an engine, model or extra missing there
is reported before anything is submitted), submits one job per item, waits for them with
a progress bar, and measures what came back with ``agents.scoring.metrics``. Items that
failed are counted with their reasons, and the metrics say which items they are over
(``orchestrator.eval.runs``); when every item failed there is no metric, only the reasons.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from agents.scoring.metrics import (
    per_query_metrics,
    roc_auc,
    rouge_l,
    squad_exact_match,
    squad_f1,
    translation_metrics,
)
from orchestrator.client import Client
from orchestrator.embedded.deployment import temporary_documents
from orchestrator.errors import UserError
from orchestrator.eval.datasets import Question, RetrievalSet
from orchestrator.eval.runs import (
    Failures,
    Over,
    describe_over,
    even_batches,
    run_jobs,
    scored,
    step_output,
)
from orchestrator.models import Plan, Step

MAX_DEPTH = 100  # the retrieval agent returns at most 100 hits
# Translation steps of about this many characters, this many at a time: each step is one
# run of Apertium's pipeline (~0.1 s to start, then ~1,000 segments a second), and a few
# in flight keep both cores busy while a run starts (benchmarks/evals.py).
BATCH_CHARS = 20_000
IN_FLIGHT = 4


@dataclass
class Report:
    """What an evaluation measured: metrics, per-item values for plots, counts, and why
    the items that failed did."""

    task: str
    metrics: dict[str, float]
    items: int
    failures: Failures = field(default_factory=Failures)
    over: Over = "all"
    details: dict[str, Any] = field(default_factory=dict)
    per_item: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return self.failures.count

    @property
    def scored_items(self) -> int:
        return self.items - (self.failed if self.over == "succeeded" else 0)

    def over_text(self) -> str:
        return describe_over(self.items, self.failed, self.over)

    def as_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metrics": {name: round(value, 4) for name, value in self.metrics.items()},
            "items": self.items,
            "failed": self.failed,
            "errors": self.failures.reasons(),
            "metrics_over": self.over,
            "scored_items": self.scored_items,
            "seconds": round(self.seconds, 2),
            **self.details,
        }


def translation_step(
    text: str, source_lang: str, target_lang: str, references: Sequence[str] = ()
) -> Step:
    data = {"text": text, "source_lang": source_lang, "target_lang": target_lang}
    # Scored against references: without them, a step is scored by translating it back,
    # which takes as long as translating it.
    reference = {"texts": list(references)} if references else None
    return Step(id="translate", agent="translation", input=data, reference=reference)


def _search(
    query: str,
    collection: str,
    k: int,
    mode: str = "bm25",
    relevant: Mapping[str, int] | None = None,
) -> Step:
    data = {"query": query, "collection": collection, "k": k, "mode": mode}
    # Scored against the judgments: without them, by the share of the query's words in
    # the hits, which for 100 hits took ten times as long as the search.
    reference = {"relevant": dict(relevant)} if relevant else None
    return Step(id="search", agent="retrieval", input=data, reference=reference)


def evaluate_retrieval(
    client: Client, data: RetrievalSet, *, k: int, mode: str, over: Over, console: Console
) -> tuple[Report, dict[str, list[tuple[str, float]]]]:
    """trec_eval's measures over the judged queries; also the ranking (the run) per query."""
    started = time.monotonic()
    judged = data.judged
    data_dir = client.settings.data_dir
    dense = mode != "bm25"
    if dense:  # the collection is embedded here
        from agents import dense as dense_extra
        from agents.errors import PermanentError

        try:
            dense_extra.require()
        except PermanentError as exc:
            raise UserError(str(exc)) from None
    if judged:  # before indexing: the workers may lack what the mode needs
        client.check_ready(Plan(steps=[_search(next(iter(judged.values())), "eval", 1, mode)]))
    with temporary_documents(
        data_dir, data.documents, prefix="eval", embeddings=dense
    ) as collection:
        plans = [
            Plan(
                steps=[_search(text, collection, MAX_DEPTH, mode, data.qrels.get(qid))],
                answer_from="search",
            )
            for qid, text in judged.items()
        ]
        results = run_jobs(client, plans, console, "queries")
    rankings: dict[str, list[tuple[str, float]]] = {}
    failures = Failures()
    ok = []
    for qid, result in zip(judged, results, strict=True):
        output, error = step_output(result, "search")
        if output is None:
            failures.add(error)
        ok.append(output is not None)
        rankings[qid] = [(hit["id"], float(hit["score"])) for hit in (output or {}).get("hits", [])]
    failures.require_some(len(judged), "queries")
    # Scores by rank keep celeriac's order exactly (trec_eval breaks score ties by doc id).
    run = {
        qid: {doc: float(MAX_DEPTH - rank) for rank, (doc, _) in enumerate(hits)}
        for qid, hits in rankings.items()
    }
    table = per_query_metrics({q: data.qrels[q] for q in scored(list(judged), ok, over)}, run, k)
    report = Report(
        task="retrieval",
        metrics={name: values["all"] for name, values in table.items()},
        items=len(judged),
        failures=failures,
        over=over,
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
    batch_chars: int = BATCH_CHARS,
    in_flight: int = IN_FLIGHT,
    over: Over = "all",
    console: Console,
) -> tuple[Report, list[str]]:
    """Corpus BLEU and chrF of the translations; the translations, line by line (a line
    of a failed batch is empty)."""
    started = time.monotonic()
    chunks = even_batches(sources, batch_chars)
    starts = [0, *itertools.accumulate(map(len, chunks))]
    plans = [
        Plan(
            steps=[
                translation_step(
                    "\n".join(chunk),
                    source_lang,
                    target_lang,
                    ["\n".join(ref[start : start + len(chunk)]) for ref in references],
                )
            ]
        )
        for chunk, start in zip(chunks, starts, strict=False)
    ]
    if plans:
        client.check_ready(plans[0])
    label = f"batches of ~{batch_chars:,} characters"
    results = run_jobs(client, plans, console, label, in_flight=in_flight)
    hypotheses: list[str] = []
    ok: list[bool] = []
    failures = Failures()
    for chunk, result in zip(chunks, results, strict=True):
        output, error = step_output(result, "translate")
        lines = str(output["text"]).split("\n") if output else []
        if output and len(lines) != len(chunk):
            error = f"the translation of {len(chunk)} lines came back with {len(lines)}"
        if error:
            failures.add(error, len(chunk))
            lines = [""] * len(chunk)
        hypotheses.extend(lines)
        ok.extend([not error] * len(chunk))
    failures.require_some(len(sources), "lines")
    measured = translation_metrics(
        scored(hypotheses, ok, over), [scored(ref, ok, over) for ref in references]
    )
    report = Report(
        task="translation",
        metrics=measured,
        items=len(sources),
        failures=failures,
        over=over,
        details={
            "source_lang": source_lang,
            "target_lang": target_lang,
            "references": len(references),
            "steps": len(plans),
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
    over: Over = "all",
    console: Console,
) -> Report:
    """SQuAD's exact match and F1 of the answers, and the recall of the gold paragraph."""
    started = time.monotonic()
    with temporary_documents(client.settings.data_dir, paragraphs, prefix="eval") as collection:
        plans = [
            Plan(
                steps=[
                    _search(q.question, collection, k),
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
    return Report(
        task="qa",
        metrics=metrics,
        items=len(questions),
        failures=failures,
        over=over,
        details={
            "k": k,
            "paragraphs": len(paragraphs),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
        },
        per_item={"f1": scored([i.f1 for i in scores], [not i.failed for i in scores], over)},
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
