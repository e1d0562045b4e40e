"""``celeriac eval retrieval``: trec_eval's measures of the retrieval agent's rankings."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from rich.console import Console

from agents.scoring.metrics import per_query_metrics
from orchestrator.client import Client
from orchestrator.embedded.deployment import temporary_documents
from orchestrator.errors import UserError
from orchestrator.eval.datasets import RetrievalSet
from orchestrator.eval.runs import Failures, Over, Ran, Report, run_jobs, scored, step_output
from orchestrator.models import Plan, Step

MAX_DEPTH = 100  # the retrieval agent returns at most 100 hits


def search_step(
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
        _require_dense()
    if judged:  # before indexing: the workers may lack what the mode needs
        client.check_ready(Plan(steps=[search_step(next(iter(judged.values())), "eval", 1, mode)]))
    with temporary_documents(
        data_dir, data.documents, prefix="eval", embeddings=dense
    ) as collection:
        plans = [
            Plan(
                steps=[search_step(text, collection, MAX_DEPTH, mode, data.qrels.get(qid))],
                answer_from="search",
            )
            for qid, text in judged.items()
        ]
        results = run_jobs(client, plans, console, "queries")
    rankings, ok, failures = _rankings(list(judged), results)
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


def _require_dense() -> None:
    from agents import dense as dense_extra
    from agents.errors import PermanentError

    try:
        dense_extra.require()
    except PermanentError as exc:
        raise UserError(str(exc)) from None


def _rankings(
    queries: list[str], results: Sequence[Ran]
) -> tuple[dict[str, list[tuple[str, float]]], list[bool], Failures]:
    """Each query's hits (id, score), whether its search succeeded, and why those failed."""
    rankings: dict[str, list[tuple[str, float]]] = {}
    failures = Failures()
    ok = []
    for qid, result in zip(queries, results, strict=True):
        output, error = step_output(result, "search")
        if output is None:
            failures.add(error)
        ok.append(output is not None)
        rankings[qid] = [(hit["id"], float(hit["score"])) for hit in (output or {}).get("hits", [])]
    failures.require_some(len(queries), "queries")
    return rankings, ok, failures
