"""Metrics equal the reference implementations': trec_eval (pytrec_eval), sacrebleu, SQuAD."""

from __future__ import annotations

import pytest
import pytrec_eval
import sacrebleu

from agents.scoring.metrics import (
    per_query_metrics,
    retrieval_metrics,
    rouge_l,
    squad_exact_match,
    squad_f1,
    translation_metrics,
    translation_scorer,
)

QRELS = {
    "1": {"d1": 2, "d2": 1, "d3": 0, "d7": 1},
    "2": {"d4": 1},
    "3": {"d5": 3, "d6": 1},
    "4": {"d8": 0},  # no relevant document: not evaluated
}
RUN = {
    "1": {"d2": 9.0, "d5": 8.0, "d1": 7.0, "d3": 6.0, "d9": 5.0},
    "2": {"d9": 2.0, "d8": 1.0},
    # query 3 retrieved nothing: it counts 0, as trec_eval -c does
    "4": {"d8": 1.0},
}


def trec_eval(measures: set[str]) -> dict[str, dict[str, float]]:
    judged = {q: d for q, d in QRELS.items() if any(g > 0 for g in d.values())}
    run = {q: RUN.get(q, {}) for q in judged}
    evaluator = pytrec_eval.RelevanceEvaluator(judged, measures)
    results = evaluator.evaluate({q: docs for q, docs in run.items() if docs})
    return {q: results.get(q, {}) for q in judged}


def mean(per_query: dict[str, dict[str, float]], measure: str) -> float:
    return sum(values.get(measure, 0.0) for values in per_query.values()) / len(per_query)


def test_retrieval_metrics_equal_trec_eval() -> None:
    ours = retrieval_metrics(QRELS, RUN, k=3)
    reference = trec_eval({"P.3", "recall.3", "ndcg_cut.3", "map", "recip_rank", "recall.100"})
    assert ours["p@3"] == pytest.approx(mean(reference, "P_3"))
    assert ours["recall@3"] == pytest.approx(mean(reference, "recall_3"))
    assert ours["ndcg@3"] == pytest.approx(mean(reference, "ndcg_cut_3"))
    assert ours["map"] == pytest.approx(mean(reference, "map"))
    assert ours["mrr"] == pytest.approx(mean(reference, "recip_rank"))
    assert ours["recall@100"] == pytest.approx(mean(reference, "recall_100"))


def test_f1_at_k_is_trec_eval_set_f_of_the_top_k() -> None:
    top3 = {q: dict(sorted(d.items(), key=lambda x: -x[1])[:3]) for q, d in RUN.items()}
    judged = {q: d for q, d in QRELS.items() if any(g > 0 for g in d.values())}
    reference = pytrec_eval.RelevanceEvaluator(judged, {"set_F"}).evaluate(
        {q: top3[q] for q in judged if q in top3}
    )
    expected = sum(reference.get(q, {}).get("set_F", 0.0) for q in judged) / len(judged)
    assert retrieval_metrics(QRELS, RUN, k=3)["f1@3"] == pytest.approx(expected)


def test_hand_checked_values_for_one_query() -> None:
    table = per_query_metrics(QRELS, RUN, k=3)
    # Query 1: relevant d1, d2, d7; the top 3 are d2 (rel), d5, d1 (rel).
    assert table["p@3"]["1"] == pytest.approx(2 / 3)
    assert table["recall@3"]["1"] == pytest.approx(2 / 3)
    assert table["mrr"]["1"] == 1.0
    assert table["map"]["1"] == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert set(table["map"]) == {"1", "2", "3", "all"}  # query 4 has no relevant document
    assert table["map"]["3"] == 0.0


def test_translation_metrics_are_sacrebleus_corpus_scores() -> None:
    hypotheses = ["El gato está en la casa.", "Hace sol hoy."]
    references = [["El gato está en casa.", "Hoy hace sol."]]
    ours = translation_metrics(hypotheses, references)
    assert ours["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hypotheses, references).score)
    assert ours["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hypotheses, references).score)
    assert translation_metrics(["a b c d e"], [["a b c d e"]])["bleu"] == pytest.approx(100)


def test_a_scorer_with_its_references_counted_beforehand_gives_the_same_scores() -> None:
    references = [["El gato está en casa.", "Hoy hace sol.", "Abre la puerta."]]
    measure = translation_scorer(references)
    for hypotheses in (["El gato está en la casa.", "Hace sol hoy.", ""], ["a", "b", "c"]):
        assert measure(hypotheses) == translation_metrics(hypotheses, references)


def test_squad_exact_match_and_f1_follow_the_official_definitions() -> None:
    assert squad_exact_match("The Eiffel Tower!", ["eiffel tower"]) == 1.0
    assert squad_exact_match("Eiffel", ["eiffel tower", "the tower"]) == 0.0
    # "eiffel" against "eiffel tower": precision 1, recall 1/2 -> F1 2/3
    assert squad_f1("Eiffel", ["eiffel tower"]) == pytest.approx(2 / 3)
    assert squad_f1("the Paris tower", ["Eiffel tower", "Paris"]) == pytest.approx(2 / 3)
    assert squad_f1("nothing alike", ["Eiffel tower"]) == 0.0


def test_rouge_l() -> None:
    assert rouge_l("the cat sat on the mat", "the cat sat on the mat") == pytest.approx(1.0)
    assert rouge_l("a dog ran", "the cat sat on the mat") == 0.0
