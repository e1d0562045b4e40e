"""``celeriac eval``: benchmark data through the real path, measured and reported.

Each command runs against CELERIAC_REDIS_URL when it is set, else on an embedded
deployment of its own, and prints a table (``--json``: only JSON on stdout; progress
goes to stderr either way); ``--report FILE`` also writes an HTML page with plots.
Items that failed are counted with their reasons; when every item failed, the command
prints no metric and exits 1 with the reasons.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agents.documents import empty_warning
from orchestrator.cli.common import err, errors_to_exit_codes, out, print_warning
from orchestrator.client import Client
from orchestrator.errors import UserError
from orchestrator.eval.answers import evaluate_qa, evaluate_summarization
from orchestrator.eval.datasets import (
    DatasetError,
    load_jsonl_pairs,
    load_retrieval,
    load_squad,
    read_lines,
)
from orchestrator.eval.retrieval import MAX_DEPTH, evaluate_retrieval
from orchestrator.eval.runs import Over, Report, deployment
from orchestrator.eval.translation import (
    BATCH_CHARS,
    IN_FLIGHT,
    evaluate_translation,
    prepare_references,
    translation_step,
)
from orchestrator.models import Plan
from orchestrator.settings import read_settings

app = typer.Typer(no_args_is_help=True, help="Measure celeriac on benchmark data.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the metrics as JSON only.")]
ReportFile = Annotated[
    Path | None, typer.Option("--report", help="Also write an HTML report with plots.")
]
Limit = Annotated[int | None, typer.Option(min=1, help="Evaluate only the first N items.")]
Existing = {"exists": True, "dir_okay": False, "readable": True}
OverOption = Annotated[
    Over,
    typer.Option(
        "--over",
        help="Metrics over all items, a failed one scoring zero, or over those that succeeded.",
    ),
]


def _finish(report: Report, as_json: bool, report_file: Path | None) -> None:
    if report_file is not None:
        from orchestrator.eval.report import write_report

        write_report(report_file, report, shlex.join(["celeriac", *sys.argv[1:]]))
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2) + "\n")
        return
    table = Table(
        title=f"celeriac eval {report.task}: {report.items} items",
        caption=f"over {report.over_text()}",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in report.metrics.items():
        table.add_row(name, f"{value:.4f}")
    out.print(table)
    if report.failed:
        failed = Table(title=f"{report.failed} of {report.items} items failed")
        failed.add_column("items", justify="right")
        failed.add_column("first error of the kind", overflow="fold")
        for reason in report.failures.reasons():
            failed.add_row(str(reason["count"]), escape(reason["error"]))
        out.print(failed)
    for key, value in report.as_json().items():
        if key not in ("metrics", "task", "errors"):
            out.print(f"{key}: {value}", highlight=False, markup=False)


@app.command()
@errors_to_exit_codes
def retrieval(
    corpus: Annotated[Path, typer.Option(help="Documents.", **Existing)],
    queries: Annotated[Path, typer.Option(help="Queries (topics).", **Existing)],
    qrels: Annotated[Path, typer.Option(help="Relevance judgments.", **Existing)],
    fmt: Annotated[
        str | None, typer.Option("--format", help="smart, trec or beir (default: detected).")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=MAX_DEPTH, help="Cutoff of @k measures.")] = 10,
    mode: Annotated[str, typer.Option(help="bm25, dense or hybrid.")] = "bm25",
    limit: Limit = None,
    run_out: Annotated[
        Path | None, typer.Option(help="Write the ranking in TREC run format.")
    ] = None,
    over: OverOption = "all",
    as_json: JsonFlag = False,
    report_file: ReportFile = None,
) -> None:
    """trec_eval's measures (p@k, recall@k, f1@k, ndcg@k, map, mrr, recall@100) of the
    retrieval agent on a test collection, over the queries that have judgments."""
    if fmt not in (None, "smart", "trec", "beir"):
        raise UserError(f"--format must be smart, trec or beir, not {fmt!r}")
    if mode not in ("bm25", "dense", "hybrid"):
        raise UserError(f"--mode must be bm25, dense or hybrid, not {mode!r}")
    data = load_retrieval(corpus, queries, qrels, fmt)  # type: ignore[arg-type]
    if data.empty:
        print_warning(empty_warning(data.empty))
    if limit is not None:
        keep = list(data.judged)[:limit]
        data.queries = {qid: data.queries[qid] for qid in keep}
    settings = read_settings()
    with deployment(settings, "retrieval") as live, Client(live) as client:
        report, rankings = evaluate_retrieval(client, data, k=k, mode=mode, over=over, console=err)
    if run_out is not None:
        lines = [
            f"{qid} Q0 {doc} {rank} {score:.6f} celeriac"
            for qid, hits in rankings.items()
            for rank, (doc, score) in enumerate(hits, start=1)
        ]
        _write(run_out, lines)
    err.print(
        f"evaluated {report.items} queries with judgments "
        f"(of {report.details['queries_total']}); {report.failed} failed",
        highlight=False,
    )
    _finish(report, as_json, report_file)


@app.command()
@errors_to_exit_codes
def translation(
    source: Annotated[Path, typer.Option(help="Source text, one segment per line.", **Existing)],
    reference: Annotated[
        list[Path], typer.Option(help="Reference translation, line-aligned (repeat).", **Existing)
    ],
    source_lang: Annotated[str, typer.Option(help="ISO code of the source, e.g. en.")],
    target_lang: Annotated[str, typer.Option(help="ISO code of the target, e.g. es.")],
    limit: Limit = None,
    batch_chars: Annotated[
        int, typer.Option(min=1, help="Characters of lines per translation step (about).")
    ] = BATCH_CHARS,
    in_flight: Annotated[
        int, typer.Option(min=1, help="Translation steps running at a time.")
    ] = IN_FLIGHT,
    hyp_out: Annotated[
        Path | None, typer.Option(help="Write the translations, one per line.")
    ] = None,
    over: OverOption = "all",
    as_json: JsonFlag = False,
    report_file: ReportFile = None,
) -> None:
    """Corpus BLEU and chrF (sacrebleu) of the translation agent on line-aligned files."""
    from agents.languages import normalize

    try:
        source_code, target_code = normalize(source_lang), normalize(target_lang)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    lines, references = _aligned(source, reference, limit)
    settings = read_settings()
    check = Plan(steps=[translation_step(lines[0] or ".", source_code, target_code)])
    prepared = prepare_references(references)
    with deployment(settings, "translation", check) as live, Client(live) as client:
        report, hypotheses = evaluate_translation(
            client,
            lines,
            references,
            source_lang=source_code,
            target_lang=target_code,
            batch_chars=batch_chars,
            in_flight=in_flight,
            prepared=prepared,
            over=over,
            console=err,
        )
    if hyp_out is not None:
        _write(hyp_out, hypotheses)
    _finish(report, as_json, report_file)


def _aligned(
    source: Path, references: list[Path], limit: int | None
) -> tuple[list[str], list[list[str]]]:
    """The first ``limit`` lines of the source and of each reference, which must have as
    many."""
    lines = read_lines(source)[:limit]
    read = [read_lines(path)[: len(lines)] for path in references]
    for path, ref in zip(references, read, strict=True):
        if len(ref) != len(lines):
            raise DatasetError(f"{path} has {len(ref)} lines; {source} has {len(lines)}")
    return lines, read


@app.command()
@errors_to_exit_codes
def qa(
    squad: Annotated[Path, typer.Option(help="SQuAD v1.1 JSON.", **Existing)],
    limit: Limit = None,
    k: Annotated[int, typer.Option("-k", min=1, max=MAX_DEPTH, help="Passages retrieved.")] = 5,
    articles: Annotated[
        str | None,
        typer.Option(
            help="Ask only the questions of the articles START:END (0-based, END excluded), "
            "e.g. 12:24; every article's paragraphs are still searched."
        ),
    ] = None,
    over: OverOption = "all",
    as_json: JsonFlag = False,
    report_file: ReportFile = None,
) -> None:
    """SQuAD exact match and F1 of retrieval -> generation, and the gold paragraph's recall."""
    paragraphs, questions = load_squad(squad)
    if articles is not None:
        start, end = _slice(articles)
        questions = [q for q in questions if start <= int(q.paragraph.split("-")[0]) < end]
    settings = read_settings()
    with deployment(settings, "qa") as live, Client(live) as client:
        report = evaluate_qa(client, paragraphs, questions[:limit], k=k, over=over, console=err)
    _finish(report, as_json, report_file)


@app.command()
@errors_to_exit_codes
def summarization(
    jsonl: Annotated[Path, typer.Option(help="JSON Lines, one text a line.", **Existing)],
    text_field: Annotated[str, typer.Option(help="The field holding the text.")],
    reference_field: Annotated[list[str], typer.Option(help="A reference summary's field.")],
    limit: Limit = None,
    max_words: Annotated[int, typer.Option(min=1, help="Longest summary asked for.")] = 60,
    over: OverOption = "all",
    as_json: JsonFlag = False,
    report_file: ReportFile = None,
) -> None:
    """ROUGE-L against reference summaries, and faithfulness to the text, of generation."""
    pairs = load_jsonl_pairs(jsonl, text_field, reference_field)[:limit]
    settings = read_settings()
    with deployment(settings, "summarization") as live, Client(live) as client:
        report = evaluate_summarization(client, pairs, max_words=max_words, over=over, console=err)
    _finish(report, as_json, report_file)


@app.command()
@errors_to_exit_codes
def faithfulness(
    claims: Annotated[
        Path,
        typer.Option(
            help="JSON (SummEval's) or JSON Lines of {document, claim, label}.", **Existing
        ),
    ],
    as_json: JsonFlag = False,
    report_file: ReportFile = None,
) -> None:
    """How well the faithfulness score separates claims consistent with their document
    (label 1) from inconsistent ones (label 0): the mean of each, and ROC AUC."""
    from orchestrator.eval.answers import evaluate_faithfulness
    from orchestrator.eval.datasets import load_claims

    report = evaluate_faithfulness(load_claims(claims))
    _finish(report, as_json, report_file)


@app.command()
@errors_to_exit_codes
def relevance(
    squad: Annotated[Path, typer.Option(help="SQuAD v1.1 JSON.", **Existing)],
    articles: Annotated[
        str | None,
        typer.Option(
            help="Only the articles START:END (0-based, END excluded), e.g. 12:24 to judge "
            "on articles you did not tune on."
        ),
    ] = None,
    as_json: JsonFlag = False,
    report_file: ReportFile = None,
) -> None:
    """How well the answer-relevance score separates good answers from off-topic ones,
    fragments and wrong abstentions (ROC AUC), and where the offline answerer abstains."""
    from orchestrator.eval.relevance import cases, evaluate_answer_relevance

    paragraphs, questions = load_squad(squad)
    if articles is not None:
        start, end = _slice(articles)
        questions = [q for q in questions if start <= int(q.paragraph.split("-")[0]) < end]
    if not questions:
        raise UserError(f"{squad}: no questions in articles {articles}")
    found = list(cases(paragraphs, questions))
    if not found:
        raise UserError(
            f"{squad}: no question can be labelled (its answer in one sentence of its "
            "paragraph, and another article to ask it of): give at least two articles"
        )
    report = evaluate_answer_relevance(found)
    _finish(report, as_json, report_file)


def _slice(text: str) -> tuple[int, int]:
    start, colon, end = text.partition(":")
    if not colon or not start.strip().isdigit() or not end.strip().isdigit():
        raise UserError(f"--articles must be START:END, e.g. 0:12; got {text!r}")
    return int(start), int(end)


def _write(path: Path, lines: list[str]) -> None:
    try:
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
