"""Does the answer-relevance score tell good answers from bad ones? A labelled set made from
SQuAD-format data, and the ROC AUC of the score on it.

For each question, with its own paragraph and its article's other paragraphs among the
passages (the three best by BM25), or, as the passages of an unanswerable question, the
three best paragraphs of other articles:

| kind | answer | passages | label |
|---|---|---|---|
| `answer` | the sentence that holds the answer | its own | good |
| `off_topic` | the best sentence (BM25) of another article | another article's | bad |
| `fragment` | the answer's sentence cut where a 60-column line wraps | its own | bad |
| `abstention` | "The documents do not answer this" | another article's | good |
| `wrong_abstention` | the same | its own | bad |
"""

from __future__ import annotations

import statistics
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from agents.documents import Document
from agents.generation import GenerationOutput, Passage
from orchestrator.datasets import Question
from orchestrator.evaluation import Report

PASSAGES = 3
WRAP = 60
ABSTENTION = "The documents do not answer this question."


@dataclass(frozen=True)
class Labelled:
    kind: str
    question: str
    output: GenerationOutput
    passages: list[Passage]
    good: bool


def labelled_answers(
    paragraphs: Sequence[Document], questions: Sequence[Question]
) -> Iterator[Labelled]:
    """Five labelled answers per question whose answer is found in one of its sentences."""
    from agents.bm25 import Bm25Index, terms
    from agents.extractive import split_sentences

    index = Bm25Index.build([f"{p.title} {p.text}" for p in paragraphs])
    by_id = {p.id: n for n, p in enumerate(paragraphs)}
    article = {p.id: p.id.rpartition("-")[0] for p in paragraphs}

    def passages(numbers: Sequence[int]) -> list[Passage]:
        chosen = [paragraphs[n] for n in numbers]
        return [Passage(id=p.id, title=p.title, text=p.text) for p in chosen]

    for q in questions:
        own = by_id[q.paragraph]
        ranked = [n for n, _ in index.search(terms(q.question), len(paragraphs))]
        home = [own, *[n for n in ranked if n != own]][:PASSAGES]
        away = [n for n in ranked if article[paragraphs[n].id] != article[q.paragraph]]
        if not away:
            continue
        units = split_sentences([(q.paragraph, "", paragraphs[own].text)])
        holder = next((u.text for u in units if any(a in u.text for a in q.answers)), None)
        if holder is None:
            continue
        others = passages(away[:PASSAGES])
        off = split_sentences([(p.id, p.title, p.text) for p in others])
        scores = Bm25Index.build([u.text for u in off]).search(terms(q.question), 1)
        off_topic = off[scores[0][0]].text if scores else off[0].text
        mine = passages(home)
        yield Labelled("answer", q.question, _said(holder), mine, True)
        yield Labelled("off_topic", q.question, _said(off_topic), others, False)
        lines = textwrap.wrap(holder, WRAP)
        if len(lines) > 1:
            yield Labelled("fragment", q.question, _said(lines[0] + "."), mine, False)
        silent = GenerationOutput(text=ABSTENTION, citations=[], answered=False)
        yield Labelled("abstention", q.question, silent, others, True)
        yield Labelled("wrong_abstention", q.question, silent, mine, False)


def _said(text: str) -> GenerationOutput:
    return GenerationOutput(text=text, citations=[])


def evaluate_answer_relevance(items: Sequence[Labelled]) -> Report:
    """The answer-relevance score of each labelled answer, by kind, and the ROC AUC of
    telling good from bad (0.5 = chance)."""
    from scipy.stats import mannwhitneyu

    from orchestrator.scorers.generation import answer_relevance

    started = time.monotonic()
    scores = [answer_relevance(i.question, i.output, i.passages) for i in items]
    good = [s for s, i in zip(scores, items, strict=True) if i.good]
    bad = [s for s, i in zip(scores, items, strict=True) if not i.good]
    auc = float(mannwhitneyu(good, bad).statistic) / (len(good) * len(bad)) if good and bad else 0.5
    kinds = dict.fromkeys(i.kind for i in items)
    means = {
        f"mean_{kind}": statistics.fmean(
            s for s, i in zip(scores, items, strict=True) if i.kind == kind
        )
        for kind in kinds
    }
    return Report(
        task="relevance",
        metrics={"auc": auc, **means},
        items=len(items),
        details={"good": len(good), "bad": len(bad), "method": "lexical"},
        per_item={"answer_relevance": scores},
        seconds=time.monotonic() - started,
    )
