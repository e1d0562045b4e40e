"""``celeriac eval``, run as a user runs it: real processes, an embedded deployment, tiny data."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import pytrec_eval
import redis
import sacrebleu

from orchestrator.embedded.deployment import settings_env
from orchestrator.settings import Settings
from tests.support.cli import celeriac, environment, fails
from tests.support.helpers import indexed_jobs, needs_apertium, needs_dense

DOCS = """.I 1
.T
wing flutter in supersonic flow
.A
a. author
.W
flutter of thin wings at supersonic speeds was measured in a wind tunnel .
.I 2
.T
heat transfer in laminar boundary layers
.W
the heat transfer rate of a laminar boundary layer on a flat plate .
.I 3
.T
buckling of cylindrical shells
.W
buckling loads of thin cylindrical shells under axial compression .
.I 4
.T
supersonic wing theory
.W
lift and drag of wings at supersonic speed from linear theory .
"""
QUERIES = """.I 001
.W
supersonic flutter of wings .
.I 002
.W
shell buckling under compression .
.I 005
.W
a question nobody judged .
"""
# Cranfield's layout: queries numbered by position; -1 is the source paper, not a judgment.
QRELS = "1 1 1\n1 4 3\n1 2 -1\n2 3 2\n"


def offline(tmp_path: Path) -> dict[str, str]:
    return environment(CELERIAC_DATA_DIR=str(tmp_path / "data"), CELERIAC_LLM_BACKEND="offline")


def smart(tmp_path: Path) -> list[str]:
    for name, text in (("docs", DOCS), ("queries", QUERIES), ("qrels", QRELS)):
        (tmp_path / name).write_text(text)
    return [
        f"--{n}={tmp_path / f}"
        for n, f in (("corpus", "docs"), ("queries", "queries"), ("qrels", "qrels"))
    ]


def test_eval_retrieval_reports_trec_eval_measures_of_its_own_run(tmp_path: Path) -> None:
    run_file, page = tmp_path / "run.txt", tmp_path / "report.html"
    result = celeriac(
        "eval",
        "retrieval",
        *smart(tmp_path),
        "-k",
        "2",
        "--json",
        f"--run-out={run_file}",
        f"--report={page}",
        env=offline(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["items"], report["queries_total"], report["failed"]) == (2, 3, 0)
    assert "evaluated 2 queries with judgments (of 3)" in result.stderr
    assert set(report["metrics"]) == {
        "p@2",
        "recall@2",
        "f1@2",
        "ndcg@2",
        "map",
        "mrr",
        "recall@100",
    }

    run: dict[str, dict[str, float]] = {}
    for line in run_file.read_text().splitlines():
        qid, q0, doc, rank, _score, tag = line.split()
        assert (q0, tag) == ("Q0", "celeriac")
        run.setdefault(qid, {})[doc] = -float(rank)  # the ranks, as trec_eval should read them
    assert run["1"] and run["2"]
    qrels = {"1": {"1": 4, "4": 2}, "2": {"3": 3}}
    trec = pytrec_eval.RelevanceEvaluator(qrels, {"map", "recip_rank", "ndcg_cut.2", "P.2"})
    expected = trec.evaluate(run)
    for ours, theirs in (
        ("map", "map"),
        ("mrr", "recip_rank"),
        ("ndcg@2", "ndcg_cut_2"),
        ("p@2", "P_2"),
    ):
        mean = sum(q[theirs] for q in expected.values()) / 2
        assert report["metrics"][ours] == pytest.approx(mean, abs=1e-4), ours
    assert report["metrics"]["mrr"] == 1.0  # both judged papers come first for their query
    html = page.read_text()
    assert "celeriac eval retrieval" in html and html.count("<svg") >= 2


def test_eval_retrieval_refuses_data_that_does_not_fit(tmp_path: Path) -> None:
    args = smart(tmp_path)
    (tmp_path / "qrels").write_text("9 1 1\n")
    assert "no query number 9" in fails(
        celeriac("eval", "retrieval", *args, env=offline(tmp_path)), 2
    )
    (tmp_path / "qrels").write_text("1 4 2 7 7\n")
    assert "unknown relevance layout" in fails(
        celeriac("eval", "retrieval", *args, env=offline(tmp_path)), 2
    )
    (tmp_path / "docs").write_text("just text\n")
    (tmp_path / "qrels").write_text(QRELS)
    assert "cannot tell the format" in fails(
        celeriac("eval", "retrieval", *args, env=offline(tmp_path)), 2
    )
    missing = celeriac("eval", "retrieval", "--corpus=/no/file", *args[1:], env=offline(tmp_path))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_eval_qa_and_summarization_measure_the_answers(tmp_path: Path) -> None:
    squad = {
        "data": [
            {
                "title": "Rivers",
                "paragraphs": [
                    {
                        "context": "The Nile is the longest river in Africa. It flows north.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "Which is the longest river in Africa?",
                                "answers": [{"text": "The Nile", "answer_start": 0}],
                            }
                        ],
                    },
                    {
                        "context": "The Amazon carries the most water of any river.",
                        "qas": [
                            {
                                "id": "q2",
                                "question": "Which river carries the most water?",
                                "answers": [{"text": "the Amazon", "answer_start": 0}],
                            }
                        ],
                    },
                ],
            }
        ]
    }
    (tmp_path / "squad.json").write_text(json.dumps(squad))
    result = celeriac(
        "eval", "qa", f"--squad={tmp_path / 'squad.json'}", "--json", env=offline(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["items"] == 2 and report["paragraphs"] == 2
    assert report["metrics"]["paragraph_recall@5"] == 1.0
    assert report["metrics"]["f1"] > 0.5  # the short answers are the answers
    assert report["metrics"]["citation_recall"] == 1.0 and report["metrics"]["abstained"] == 0
    assert (report["failed"], report["errors"]) == (0, [])
    measured = report["metrics"]

    # A question with no searchable words: its search fails, its answer is skipped.
    qas = squad["data"][0]["paragraphs"][1]["qas"]  # type: ignore[index]
    qas.append({"id": "q3", "question": "Is it?", "answers": [{"text": "x", "answer_start": 0}]})
    (tmp_path / "squad.json").write_text(json.dumps(squad))
    for over, scored, recall in (("all", 3, 2 / 3), ("succeeded", 2, 1.0)):
        result = celeriac(
            "eval",
            "qa",
            f"--squad={tmp_path / 'squad.json'}",
            f"--over={over}",
            "--json",
            env=offline(tmp_path),
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert (report["items"], report["failed"], report["scored_items"]) == (3, 1, scored)
        [reason] = report["errors"]
        assert reason["error"].startswith("search: ") and "no searchable words" in reason["error"]
        assert report["metrics"]["paragraph_recall@5"] == pytest.approx(recall, abs=1e-4)
    assert report["metrics"]["f1"] == measured["f1"]  # over the two that succeeded

    # Held-out articles: only their questions are asked, over every article's paragraphs.
    squad["data"].append(
        {
            "title": "Mountains",
            "paragraphs": [
                {
                    "context": "Mount Elbrus is the highest mountain in Europe.",
                    "qas": [
                        {
                            "id": "q4",
                            "question": "What is the highest mountain in Europe?",
                            "answers": [{"text": "Mount Elbrus", "answer_start": 0}],
                        }
                    ],
                }
            ],
        }
    )
    (tmp_path / "squad.json").write_text(json.dumps(squad))
    held_out = ("eval", "qa", f"--squad={tmp_path / 'squad.json'}", "--json")
    result = celeriac(*held_out, "--articles=1:2", env=offline(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["items"], report["paragraphs"]) == (1, 3)
    assert report["metrics"]["exact_match"] == 1.0
    assert "--articles must be START:END" in fails(
        celeriac(*held_out, "--articles=1-2", env=offline(tmp_path)), 2
    )

    (tmp_path / "s.jsonl").write_text(
        json.dumps(
            {
                "doc": "The rover landed on Mars. The Mars rover sent pictures. Lunch was pasta.",
                "ref": "A rover landed on Mars and sent pictures.",
            }
        )
        + "\n"
    )
    result = celeriac(
        "eval",
        "summarization",
        f"--jsonl={tmp_path / 's.jsonl'}",
        "--text-field=doc",
        "--reference-field=ref",
        "--max-words=12",
        "--json",
        env=offline(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["metrics"]["faithfulness"] == 1.0  # an extract is faithful to its text
    assert report["metrics"]["rougeL"] > 0.3


@needs_apertium
def test_eval_translation_reports_sacrebleu_scores_of_its_translations(tmp_path: Path) -> None:
    (tmp_path / "en").write_text("The cat is at home.\nI like green apples.\nThe door is open.\n")
    (tmp_path / "es").write_text(
        "El gato está en casa.\nMe gustan las manzanas verdes.\nLa puerta está abierta.\n"
    )
    hyps = tmp_path / "hyp.txt"
    result = celeriac(
        "eval",
        "translation",
        f"--source={tmp_path / 'en'}",
        f"--reference={tmp_path / 'es'}",
        "--source-lang=en",
        "--target-lang=es",
        "--batch-chars=30",
        f"--hyp-out={hyps}",
        "--json",
        env=offline(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["steps"], report["failed"], report["errors"]) == (2, 0, [])
    lines = hyps.read_text().splitlines()
    assert len(lines) == 3 and "gato" in lines[0]
    references = [(tmp_path / "es").read_text().splitlines()]
    assert report["metrics"]["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(lines, references).score, abs=1e-4
    )
    assert report["metrics"]["chrf"] == pytest.approx(
        sacrebleu.corpus_chrf(lines, references).score, abs=1e-4
    )
    assert report["metrics"]["chrf"] > 40


@needs_dense
def test_eval_retrieval_in_hybrid_mode_embeds_the_collection(tmp_path: Path) -> None:
    env = {**offline(tmp_path), "HF_HUB_OFFLINE": "1"}
    result = celeriac(
        "eval", "retrieval", *smart(tmp_path), "-k", "2", "--mode", "hybrid", "--json", env=env
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mode"] == "hybrid" and report["failed"] == 0
    assert report["metrics"]["mrr"] > 0.5


def error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The error a command ended with, having printed no result (progress may precede it)."""
    assert result.returncode == code, result
    assert result.stdout == ""
    last = result.stderr.rstrip("\n").splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    return last.removeprefix("error: ")


def with_unsearchable_query(tmp_path: Path, *, all_of_them: bool = False) -> list[str]:
    """The small collection, with a judged query that has no searchable words (its
    search fails on the worker); ``all_of_them``: every judged query is such."""
    args = smart(tmp_path)
    queries = QUERIES.replace("a question nobody judged .", "is it of the ?")
    if all_of_them:
        queries = ".I 001\n.W\nof the and .\n.I 002\n.W\nis it ?\n.I 005\n.W\nis it of the ?\n"
    (tmp_path / "queries").write_text(queries)
    (tmp_path / "qrels").write_text(QRELS + "3 2 1\n")
    return args


def test_eval_retrieval_names_the_queries_that_failed_and_what_its_metrics_are_over(
    tmp_path: Path,
) -> None:
    args, page = with_unsearchable_query(tmp_path), tmp_path / "report.html"
    zero = celeriac(
        "eval", "retrieval", *args, "-k", "2", "--json", f"--report={page}", env=offline(tmp_path)
    )
    assert zero.returncode == 0, zero.stderr
    report = json.loads(zero.stdout)
    assert (report["items"], report["failed"], report["scored_items"]) == (3, 1, 3)
    assert report["metrics_over"] == "all"
    [reason] = report["errors"]
    assert reason["count"] == 1 and "has no searchable words" in reason["error"]
    assert report["metrics"]["mrr"] == pytest.approx(2 / 3, abs=1e-4)  # the failed one: 0

    kept = celeriac(
        "eval", "retrieval", *args, "-k", "2", "--over=succeeded", "--json", env=offline(tmp_path)
    )
    assert kept.returncode == 0, kept.stderr
    report = json.loads(kept.stdout)
    assert (report["failed"], report["scored_items"], report["metrics_over"]) == (
        1,
        2,
        "succeeded",
    )
    assert report["metrics"]["mrr"] == 1.0

    html = page.read_text()
    assert "Failures" in html and "has no searchable words" in html
    assert "the 1 that failed counting as empty answers (zero)" in html

    table = celeriac("eval", "retrieval", *args, "-k", "2", env=offline(tmp_path))
    assert table.returncode == 0, table.stderr
    assert "1 of 3 items failed" in table.stdout and "searchable words" in table.stdout
    assert "over all 3 items, the 1 that failed" in " ".join(table.stdout.split())


def test_eval_retrieval_prints_no_metric_when_every_query_failed(tmp_path: Path) -> None:
    args = with_unsearchable_query(tmp_path, all_of_them=True)
    page = tmp_path / "report.html"
    result = celeriac(
        "eval", "retrieval", *args, "--json", f"--report={page}", env=offline(tmp_path)
    )
    error = error_line(result, 1)
    assert error.startswith("all 3 queries failed, so there is nothing to measure: (3) ")
    assert "has no searchable words" in error
    assert not page.exists()


def test_eval_translation_without_the_language_pair_fails_before_it_starts(
    tmp_path: Path,
) -> None:
    (tmp_path / "en").write_text("The cat is at home.\n" * 300)
    (tmp_path / "ca").write_text("El gat és a casa.\n" * 300)
    args = [
        f"--source={tmp_path / 'en'}",
        f"--reference={tmp_path / 'ca'}",
        "--source-lang=en",
        "--target-lang=ca",
    ]
    # Catalan is not installed here (and with no Apertium at all, it says to install it).
    error = fails(celeriac("eval", "translation", *args, env=offline(tmp_path)), 1)
    assert "cannot run on the workers of this machine" in error
    assert "apt-get install apertium" in error
    assert "Embedded" not in error


def test_eval_translation_asks_the_live_workers_before_it_submits(
    tmp_path: Path, deployment: Settings, redis_client: redis.Redis
) -> None:
    (tmp_path / "en").write_text("The cat is at home.\n" * 300)
    (tmp_path / "ca").write_text("El gat és a casa.\n" * 300)
    jobs = len(indexed_jobs(redis_client))
    result = celeriac(
        "eval",
        "translation",
        f"--source={tmp_path / 'en'}",
        f"--reference={tmp_path / 'ca'}",
        "--source-lang=en",
        "--target-lang=ca",
        env={**offline(tmp_path), **settings_env(deployment)},
    )
    error = fails(result, 1)
    assert "cannot run on any live translation worker" in error
    assert "apt-get install apertium" in error
    assert len(indexed_jobs(redis_client)) == jobs  # nothing was submitted


@needs_apertium
def test_eval_translation_counts_a_refused_batch_as_failed_lines(tmp_path: Path) -> None:
    good = ["The cat is at home.", "I like green apples.", "The door is open."]
    references = [
        "El gato está en casa.",
        "Me gustan las manzanas verdes.",
        "La puerta está abierta.",
    ]
    long = "The red car is fast. " * 200  # a plan larger than CELERIAC_MAX_PLAN_BYTES
    (tmp_path / "en").write_text("\n".join([good[0], long, *good[1:]]) + "\n")
    (tmp_path / "es").write_text("\n".join([references[0], "El coche.", *references[1:]]) + "\n")
    env = {**offline(tmp_path), "CELERIAC_MAX_PLAN_BYTES": "3000"}
    args = [
        f"--source={tmp_path / 'en'}",
        f"--reference={tmp_path / 'es'}",
        "--source-lang=en",
        "--target-lang=es",
        "--batch-chars=30",
        "--json",
    ]
    hyps = tmp_path / "hyp.txt"
    zero = celeriac("eval", "translation", *args, f"--hyp-out={hyps}", env=env)
    assert zero.returncode == 0, zero.stderr
    report = json.loads(zero.stdout)
    assert (report["items"], report["failed"], report["scored_items"]) == (4, 1, 4)
    [reason] = report["errors"]
    assert reason["count"] == 1 and reason["error"].startswith("not submitted: ")
    assert "3000" in reason["error"]
    lines = hyps.read_text().split("\n")[:-1]
    assert lines[1] == "" and "gato" in lines[0]
    all_refs = [[references[0], "El coche.", *references[1:]]]
    assert report["metrics"]["chrf"] == pytest.approx(
        sacrebleu.corpus_chrf(lines, all_refs).score, abs=1e-4
    )

    kept = celeriac("eval", "translation", *args, "--over=succeeded", env=env)
    assert kept.returncode == 0, kept.stderr
    report = json.loads(kept.stdout)
    assert (report["failed"], report["scored_items"]) == (1, 3)
    assert report["metrics"]["chrf"] == pytest.approx(
        sacrebleu.corpus_chrf([lines[0], *lines[2:]], [references]).score, abs=1e-4
    )


def test_eval_retrieval_leaves_empty_documents_out_with_one_warning(tmp_path: Path) -> None:
    args = smart(tmp_path)
    (tmp_path / "docs").write_text(DOCS + ".I 5\n.T\n.A\n.W\n.I 6\n.W\n")
    result = celeriac("eval", "retrieval", *args, "-k", "2", "--json", env=offline(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "skipped 2 empty documents (nothing to index): 5, 6\n" in result.stderr
    report = json.loads(result.stdout)
    assert (report["documents"], report["failed"]) == (4, 0)
