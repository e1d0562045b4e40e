"""``celeriac eval``: benchmark data through the real path, measured and reported.

Each command runs against CELERIAC_REDIS_URL when it is set, else on an embedded
deployment of its own, and prints a table (``--json``: only JSON on stdout; progress
goes to stderr either way); ``--report FILE`` also writes an HTML page with plots.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agents.documents import empty_warning
from orchestrator.cli_common import err, errors_to_exit_codes, out, print_warning
from orchestrator.client import Client
from orchestrator.datasets import (
    DatasetError,
    load_jsonl_pairs,
    load_retrieval,
    load_squad,
    read_lines,
)
from orchestrator.errors import UserError
from orchestrator.evaluation import (
    MAX_DEPTH,
    Report,
    deployment,
    evaluate_qa,
    evaluate_retrieval,
    evaluate_summarization,
    evaluate_translation,
)
from orchestrator.settings import read_settings

app = typer.Typer(no_args_is_help=True, help="Measure celeriac on benchmark data.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the metrics as JSON only.")]
ReportFile = Annotated[
    Path | None, typer.Option("--report", help="Also write an HTML report with plots.")
]
Limit = Annotated[int | None, typer.Option(min=1, help="Evaluate only the first N items.")]
Existing = {"exists": True, "dir_okay": False, "readable": True}


def _finish(report: Report, as_json: bool, report_file: Path | None) -> None:
    if report_file is not None:
        from orchestrator.report import write_report

        write_report(report_file, report, shlex.join(["celeriac", *sys.argv[1:]]))
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2) + "\n")
        return
    table = Table(title=f"celeriac eval {report.task}: {report.items} items")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in report.metrics.items():
        table.add_row(name, f"{value:.4f}")
    out.print(table)
    for key, value in report.as_json().items():
        if key not in ("metrics", "task"):
            out.print(f"{key}: {value}", highlight=False)


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
    with deployment(settings) as live, Client(live) as client:
        report, rankings = evaluate_retrieval(client, data, k=k, mode=mode, console=err)
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
    batch: Annotated[int, typer.Option(min=1, help="Lines per translation step.")] = 20,
    hyp_out: Annotated[
        Path | None, typer.Option(help="Write the translations, one per line.")
    ] = None,
    as_json: JsonFlag = False,
    report_file: ReportFile = None,
) -> None:
    """Corpus BLEU and chrF (sacrebleu) of the translation agent on line-aligned files."""
    from agents.languages import normalize

    try:
        source_code, target_code = normalize(source_lang), normalize(target_lang)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    lines = read_lines(source)[:limit]
    references = [read_lines(path)[: len(lines)] for path in reference]
    for path, ref in zip(reference, references, strict=True):
        if len(ref) != len(lines):
            raise DatasetError(f"{path} has {len(ref)} lines; {source} has {len(lines)}")
    settings = read_settings()
    with deployment(settings) as live, Client(live) as client:
        report, hypotheses = evaluate_translation(
            client,
            lines,
            references,
            source_lang=source_code,
            target_lang=target_code,
            batch=batch,
            console=err,
        )
    if hyp_out is not None:
        _write(hyp_out, hypotheses)
    _finish(report, as_json, report_file)


@app.command()
@errors_to_exit_codes
def qa(
    squad: Annotated[Path, typer.Option(help="SQuAD v1.1 JSON.", **Existing)],
    limit: Limit = None,
    k: Annotated[int, typer.Option("-k", min=1, max=MAX_DEPTH, help="Passages retrieved.")] = 5,
    as_json: JsonFlag = False,
    report_file: ReportFile = None,
) -> None:
    """SQuAD exact match and F1 of retrieval -> generation, and the gold paragraph's recall."""
    paragraphs, questions = load_squad(squad)
    settings = read_settings()
    with deployment(settings) as live, Client(live) as client:
        report = evaluate_qa(client, paragraphs, questions[:limit], k=k, console=err)
    _finish(report, as_json, report_file)


@app.command()
@errors_to_exit_codes
def summarization(
    jsonl: Annotated[Path, typer.Option(help="JSON Lines, one text a line.", **Existing)],
    text_field: Annotated[str, typer.Option(help="The field holding the text.")],
    reference_field: Annotated[list[str], typer.Option(help="A reference summary's field.")],
    limit: Limit = None,
    max_words: Annotated[int, typer.Option(min=1, help="Longest summary asked for.")] = 60,
    as_json: JsonFlag = False,
    report_file: ReportFile = None,
) -> None:
    """ROUGE-L against reference summaries, and faithfulness to the text, of generation."""
    pairs = load_jsonl_pairs(jsonl, text_field, reference_field)[:limit]
    settings = read_settings()
    with deployment(settings) as live, Client(live) as client:
        report = evaluate_summarization(client, pairs, max_words=max_words, console=err)
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
    from orchestrator.datasets import load_claims
    from orchestrator.evaluation import evaluate_faithfulness

    report = evaluate_faithfulness(load_claims(claims))
    _finish(report, as_json, report_file)


def _write(path: Path, lines: list[str]) -> None:
    try:
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
