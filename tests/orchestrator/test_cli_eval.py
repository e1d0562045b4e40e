"""``celeriac eval``, run as a user runs it: real processes, an embedded deployment, tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytrec_eval
import sacrebleu

from tests.conftest import needs_apertium, needs_dense
from tests.orchestrator.test_cli import celeriac, environment, fails

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
    assert 0 < report["metrics"]["f1"] < 1 and report["metrics"]["exact_match"] == 0.0

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
        "--batch=2",
        f"--hyp-out={hyps}",
        "--json",
        env=offline(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
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


def test_eval_retrieval_leaves_empty_documents_out_with_one_warning(tmp_path: Path) -> None:
    args = smart(tmp_path)
    (tmp_path / "docs").write_text(DOCS + ".I 5\n.T\n.A\n.W\n.I 6\n.W\n")
    result = celeriac("eval", "retrieval", *args, "-k", "2", "--json", env=offline(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "skipped 2 empty documents (nothing to index): 5, 6\n" in result.stderr
    report = json.loads(result.stdout)
    assert (report["documents"], report["failed"]) == (4, 0)
