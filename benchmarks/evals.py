"""``celeriac eval``, run as a user runs it: the command, end to end, on an embedded deployment.

Each run is a child process (no ``CELERIAC_*`` or ``OPENAI_*`` variables but an offline
backend and a data directory of its own) that starts Redis and a worker, runs every item
through them, measures, stops everything and prints its ``--json`` report. The wall time
is the whole command's; "in the deployment" is the report's own ``seconds`` (from the
first submission, or the indexing, to the last result), without start-up and stop.

Translation: English to Spanish with Apertium, the first lines of FLORES-200 devtest
(``$DATA/flores200_devtest``, ``DATA`` as for ``make eval``, default ``../shared/data``)
when it is there, else generated support text (benchmarks/translation.py's sentences; its
"reference" is the source itself, so no chrF is reported). Once with the defaults, once in
the shape the old default had (batches of about 20 lines, every batch submitted at once).

Retrieval: a generated collection of 10,000 documents (benchmarks/bm25.py's Zipf
pseudo-words) in BEIR's files, with queries of 2-5 words drawn from one document each,
that document judged relevant; BM25.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import bm25
from benchmarks.deployment import BenchmarkError, repo_root
from benchmarks.report import Column, Table, fixed, median, wall_stats
from benchmarks.startup import clean_env
from benchmarks.translation import SENTENCES

TIMEOUT = 600.0
LINES = {False: (300, 1_000), True: (300,)}
OLD_SHAPE = ("--batch-chars=2600", "--in-flight=100000")  # ~20 FLORES lines a step, all at once
DOCUMENTS = 10_000
QUERIES = {False: 1_000, True: 200}
FLORES = ("flores200_devtest/eng_Latn.devtest", "flores200_devtest/spa_Latn.devtest")


def data_dir() -> Path:
    return Path(os.environ.get("DATA") or repo_root().parent / "shared" / "data")


def eval_command(args: list[str], scratch: Path) -> dict[str, Any]:
    """Run ``celeriac eval ARGS --json``; its report, with the command's wall time."""
    env = {
        **clean_env(),
        "CELERIAC_LLM_BACKEND": "offline",
        "CELERIAC_DATA_DIR": str(scratch / "data"),
    }
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "eval", *args, "--json"],
        cwd=repo_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise BenchmarkError(f"celeriac eval {args[0]} failed: {done.stderr.strip()[-500:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    if report["failed"]:
        raise BenchmarkError(f"celeriac eval {args[0]}: {report['failed']} items failed")
    report["wall"] = wall
    return report


def repeated(
    args: list[str], scratch: Path, repeats: int
) -> tuple[list[float], list[float], dict[str, Any]]:
    """The command's wall times, its reports' seconds, and its last report."""
    reports = [eval_command(args, scratch) for _ in range(repeats)]
    return [r["wall"] for r in reports], [r["seconds"] for r in reports], reports[-1]


def translation_files(scratch: Path, lines: int) -> tuple[Path, Path, bool]:
    """Source and reference files of ``lines`` lines, and whether the reference is real."""
    flores = [data_dir() / name for name in FLORES]
    if all(path.exists() for path in flores):
        texts = [path.read_text(encoding="utf-8").splitlines()[:lines] for path in flores]
        real = True
    else:
        rng = random.Random(bm25.SEED)
        generated = [" ".join(rng.choices(SENTENCES, k=rng.randint(1, 2))) for _ in range(lines)]
        texts, real = [generated, generated], False
    paths = [scratch / "source.txt", scratch / "reference.txt"]
    for path, text in zip(paths, texts, strict=True):
        path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return paths[0], paths[1], real


def translation_row(lines: int, shape: tuple[str, ...], repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="celeriac-bench-eval-") as tmp:
        scratch = Path(tmp)
        source, reference, real = translation_files(scratch, lines)
        args = [
            "translation",
            f"--source={source}",
            f"--reference={reference}",
            "--source-lang=en",
            "--target-lang=es",
            *shape,
        ]
        walls, inside, report = repeated(args, scratch, repeats)
    return {
        "shape": "defaults" if not shape else "about 20 lines a step, all at once",
        "lines": lines,
        "steps": report["steps"],
        **wall_stats(walls),
        "lines_per_s": lines / median(walls),
        "inside_s": median(inside),
        "inside_lines_per_s": lines / median(inside),
        "chrf": report["metrics"]["chrf"] if real else None,
        "bleu": report["metrics"]["bleu"] if real else None,
        "data": "FLORES-200 devtest" if real else "generated",
    }


def retrieval_files(scratch: Path, documents: int, queries: int) -> list[Path]:
    """BEIR's three files: generated documents, and queries drawn from one document each."""
    words = bm25.vocabulary()
    docs = bm25.documents(documents, words)
    rng = random.Random(bm25.SEED)
    asked = rng.sample(range(documents), queries)
    corpus, topics, qrels = scratch / "corpus.jsonl", scratch / "queries.jsonl", scratch / "qrels"
    corpus.write_text(
        "".join(json.dumps({"_id": d.id, "title": d.title, "text": d.text}) + "\n" for d in docs)
    )
    texts = [" ".join(rng.sample(docs[i].text.split(), rng.randint(2, 5))) for i in asked]
    topics.write_text(
        "".join(json.dumps({"_id": f"q{n}", "text": t}) + "\n" for n, t in enumerate(texts))
    )
    qrels.write_text(
        "query-id\tcorpus-id\tscore\n"
        + "".join(f"q{n}\t{docs[i].id}\t1\n" for n, i in enumerate(asked))
    )
    return [corpus, topics, qrels]


def retrieval_row(queries: int, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="celeriac-bench-eval-") as tmp:
        scratch = Path(tmp)
        corpus, topics, qrels = retrieval_files(scratch, DOCUMENTS, queries)
        args = ["retrieval", f"--corpus={corpus}", f"--queries={topics}", f"--qrels={qrels}"]
        walls, inside, report = repeated(args, scratch, repeats)
    return {
        "documents": report["documents"],
        "queries": queries,
        **wall_stats(walls),
        "queries_per_s": queries / median(walls),
        "inside_s": median(inside),
        "inside_queries_per_s": queries / median(inside),
        "ndcg": report["metrics"]["ndcg@10"],
        "mrr": report["metrics"]["mrr"],
    }


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    repeats = repeats or (1 if quick else 3)
    translation = Table(
        "celeriac eval translation, Apertium eng-spa, the command end to end (median of runs)",
        [
            Column("shape", "steps of", left=True),
            Column("lines", "lines", fixed(0)),
            Column("steps", "steps", fixed(0)),
            Column("wall_range_s", "wall s"),
            Column("lines_per_s", "lines/s", fixed(0), better="higher"),
            Column("inside_s", "in deployment s", fixed(2)),
            Column("inside_lines_per_s", "lines/s there", fixed(0)),
            Column("chrf", "chrF", fixed(2)),
            Column("bleu", "BLEU", fixed(2)),
        ],
        key=("shape", "lines", "steps"),
    )
    for lines in LINES[quick]:
        translation.rows.append(translation_row(lines, (), repeats))
    translation.rows.append(translation_row(LINES[quick][-1], OLD_SHAPE, repeats))
    translation.notes += [
        f"data: {translation.rows[0]['data']} (DATA={data_dir()})",
        "wall: the whole command, embedded Redis and worker started and stopped; "
        "in deployment: the report's seconds, first submission to last result",
        "the old shape: --batch-chars=2600 --in-flight=100000 (the old default was 20 lines "
        "a step, every step at once)",
    ]
    retrieval = Table(
        "celeriac eval retrieval, BM25, the command end to end (median of runs)",
        [
            Column("documents", "documents", fixed(0)),
            Column("queries", "queries", fixed(0)),
            Column("wall_range_s", "wall s"),
            Column("queries_per_s", "queries/s", fixed(0), better="higher"),
            Column("inside_s", "in deployment s", fixed(2)),
            Column("inside_queries_per_s", "queries/s there", fixed(0)),
            Column("ndcg", "nDCG@10", fixed(3)),
            Column("mrr", "MRR", fixed(3)),
        ],
        rows=[retrieval_row(QUERIES[quick], repeats)],
        key=("documents", "queries"),
    )
    retrieval.notes += [
        f"generated documents (seed {bm25.SEED}): 30-200 Zipf pseudo-words each; each query "
        "is 2-5 words of one document, which is judged relevant",
        "in deployment: the report's seconds, indexing the collection included",
    ]
    return [translation, retrieval]
