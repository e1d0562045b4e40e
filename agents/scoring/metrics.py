"""Metrics, computed by the libraries that define them: trec_eval (through ``ir_measures``
and ``pytrec_eval``), ``sacrebleu`` and ``rouge-score``; and SQuAD's exact match and F1.

Each library is imported on first use: together they take about a second to load.
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Qrels = Mapping[str, Mapping[str, int]]  # query -> document -> relevance grade (0 = not)
Run = Mapping[str, Mapping[str, float]]  # query -> document -> score (higher = better)


def retrieval_metrics(qrels: Qrels, run: Run, k: int) -> dict[str, float]:
    """trec_eval's measures over the queries of ``qrels``, averaged: ``p@k``, ``recall@k``,
    ``f1@k`` (set F1 of the top k), ``ndcg@k``, ``map``, ``mrr``, and ``recall@100``."""
    return {name: values["all"] for name, values in per_query_metrics(qrels, run, k).items()}


def per_query_metrics(qrels: Qrels, run: Run, k: int) -> dict[str, dict[str, float]]:
    """As ``retrieval_metrics``, per query (key ``all``: the mean over every judged query,
    a query with no results counting 0, as trec_eval's ``-c`` does)."""
    import ir_measures
    from ir_measures import AP, RR, P, R, SetF, nDCG

    judged = {q: dict(docs) for q, docs in qrels.items() if any(g > 0 for g in docs.values())}
    ranked = {q: dict(run.get(q, {})) for q in judged}
    top_k = {
        q: dict(sorted(docs.items(), key=lambda d: (-d[1], d[0]))[:k]) for q, docs in ranked.items()
    }
    measures = {f"p@{k}": P @ k, f"recall@{k}": R @ k, f"ndcg@{k}": nDCG @ k, "map": AP, "mrr": RR}
    measures["recall@100"] = R @ 100
    names = {measure: name for name, measure in measures.items()}
    table: dict[str, dict[str, float]] = {name: dict.fromkeys(judged, 0.0) for name in measures}
    for metric in ir_measures.pytrec_eval.iter_calc(list(measures.values()), judged, ranked):
        table[names[metric.measure]][metric.query_id] = float(metric.value)
    f1 = dict.fromkeys(judged, 0.0)
    for metric in ir_measures.pytrec_eval.iter_calc([SetF], judged, top_k):
        f1[metric.query_id] = float(metric.value)
    order = [f"p@{k}", f"recall@{k}", f"f1@{k}", f"ndcg@{k}", "map", "mrr", "recall@100"]
    table = {name: ({**table, f"f1@{k}": f1})[name] for name in order}
    for values in table.values():
        values["all"] = sum(values.values()) / len(judged) if judged else 0.0
    return table


def translation_metrics(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu's defaults, 0-100); ``references`` holds one list per
    reference translation, each aligned with ``hypotheses``."""
    import sacrebleu

    return {
        "bleu": sacrebleu.corpus_bleu(list(hypotheses), [list(r) for r in references]).score,
        "chrf": sacrebleu.corpus_chrf(list(hypotheses), [list(r) for r in references]).score,
    }


def translation_scorer(
    references: Sequence[Sequence[str]],
) -> Callable[[Sequence[str]], dict[str, float]]:
    """``translation_metrics`` against these ``references``, their n-grams counted now
    (about half the work): what is left for each call is the hypotheses'."""
    from sacrebleu.metrics.bleu import BLEU
    from sacrebleu.metrics.chrf import CHRF

    refs = [list(r) for r in references]
    bleu, chrf = BLEU(references=refs), CHRF(references=refs)

    def measure(hypotheses: Sequence[str]) -> dict[str, float]:
        return {
            "bleu": bleu.corpus_score(list(hypotheses), None).score,
            "chrf": chrf.corpus_score(list(hypotheses), None).score,
        }

    return measure


def sentence_translation_metrics(hypothesis: str, references: Sequence[str]) -> dict[str, float]:
    """One translation's chrF and BLEU (0-100)."""
    import sacrebleu

    return {
        "chrf": sacrebleu.sentence_chrf(hypothesis, list(references)).score,
        "bleu": sacrebleu.sentence_bleu(hypothesis, list(references)).score,
    }


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (``rouge-score``, with its Porter stemmer)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(scorer.score(reference, prediction)["rougeL"].fmeasure)


# SQuAD v1.1's definitions (its official evaluation script): answers are compared after
# lower-casing and removing punctuation, the articles a/an/the and extra white space.
def _squad_normalize(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad_exact_match(prediction: str, answers: Sequence[str]) -> float:
    return max(float(_squad_normalize(prediction) == _squad_normalize(a)) for a in answers)


def squad_f1(prediction: str, answers: Sequence[str]) -> float:
    """The best token-overlap F1 of ``prediction`` against any of the ``answers``."""

    def f1(gold: str) -> float:
        predicted, expected = _squad_normalize(prediction).split(), _squad_normalize(gold).split()
        common: Any = collections.Counter(predicted) & collections.Counter(expected)
        same = int(sum(common.values()))
        if same == 0:
            return 0.0
        precision, recall = same / len(predicted), same / len(expected)
        return 2 * precision * recall / (precision + recall)

    return max(f1(answer) for answer in answers)


def roc_auc(good: Sequence[float], bad: Sequence[float]) -> float:
    """ROC AUC of telling ``good`` from ``bad`` by value (0.5 = chance, or when one is empty)."""
    from scipy.stats import mannwhitneyu

    if not good or not bad:
        return 0.5
    return float(mannwhitneyu(good, bad).statistic) / (len(good) * len(bad))
