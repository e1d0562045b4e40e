"""Does the answer-relevance score tell good answers from bad ones, and does the offline
answerer abstain where it should? Labelled sets made from SQuAD-format data.

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

The answerer's abstention threshold (``agents.extractive.ANSWERABLE``) is checked on the
same questions: the best unit's relevance with the question's own paragraph among the
passages, against the same without it (the three best paragraphs but that one, mostly of
its own article: the hard case) and against other articles' paragraphs.
"""

from __future__ import annotations

import statistics
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from agents.documents import Document
from agents.generation import GenerationOutput, Passage
from agents.scoring.metrics import roc_auc
from orchestrator.eval.datasets import Question
from orchestrator.eval.runs import Report

PASSAGES = 3
WRAP = 60
ABSTENTION = "The documents do not answer this question."


@dataclass(frozen=True)
class Case:
    """One question, with three sets of passages."""

    question: Question
    holder: str  # the sentence of its paragraph that holds the answer
    own: list[Passage]  # its paragraph and the next best
    without: list[Passage]  # the best but its own paragraph
    others: list[Passage]  # other articles' best


@dataclass(frozen=True)
class Labelled:
    kind: str
    question: str
    output: GenerationOutput
    passages: list[Passage]
    good: bool


def cases(paragraphs: Sequence[Document], questions: Sequence[Question]) -> Iterator[Case]:
    """Each question whose answer is found in one of its paragraph's sentences."""
    from agents.bm25 import Bm25Index, terms
    from agents.extractive import split_sentences

    index = Bm25Index.build([f"{p.title} {p.text}" for p in paragraphs])
    by_id = {p.id: n for n, p in enumerate(paragraphs)}
    article = {p.id: p.id.rpartition("-")[0] for p in paragraphs}

    def passages(numbers: Sequence[int]) -> list[Passage]:
        chosen = [paragraphs[n] for n in numbers[:PASSAGES]]
        return [Passage(id=p.id, title=p.title, text=p.text) for p in chosen]

    for q in questions:
        own = by_id[q.paragraph]
        ranked = [n for n, _ in index.search(terms(q.question), len(paragraphs))]
        seen = set(ranked)
        ranked += [n for n in range(len(paragraphs)) if n not in seen]  # sharing no word
        away = [n for n in ranked if article[paragraphs[n].id] != article[q.paragraph]]
        units = split_sentences([(q.paragraph, "", paragraphs[own].text)])
        holder = next((u.text for u in units if any(a in u.text for a in q.answers)), None)
        if away and holder is not None:
            home = [own, *[n for n in ranked if n != own]]
            yield Case(q, holder, passages(home), passages(home[1:]), passages(away))


def labelled_answers(items: Sequence[Case]) -> Iterator[Labelled]:
    """Five labelled answers per question (see the module's table)."""
    from agents.bm25 import Bm25Index, terms
    from agents.extractive import split_sentences

    for case in items:
        question = case.question.question
        off = split_sentences([(p.id, p.title, p.text) for p in case.others])
        best = Bm25Index.build([u.text for u in off]).search(terms(question), 1)
        off_topic = off[best[0][0]].text if best else off[0].text
        yield Labelled("answer", question, _said(case.holder), case.own, True)
        yield Labelled("off_topic", question, _said(off_topic), case.others, False)
        lines = textwrap.wrap(case.holder, WRAP)
        if len(lines) > 1:
            yield Labelled("fragment", question, _said(lines[0] + "."), case.own, False)
        silent = GenerationOutput(text=ABSTENTION, citations=[], answered=False)
        yield Labelled("abstention", question, silent, case.others, True)
        yield Labelled("wrong_abstention", question, silent, case.own, False)


def _said(text: str) -> GenerationOutput:
    return GenerationOutput(text=text, citations=[])


def evaluate_answer_relevance(found: Sequence[Case]) -> Report:
    """The answer-relevance score of each labelled answer, by kind, and the ROC AUC of
    telling good from bad (0.5 = chance); the abstention threshold's answer and
    abstention rates, and the threshold that would tell the hard case best."""
    from agents.scoring.generation import answer_relevance

    started = time.monotonic()
    items = list(labelled_answers(found))
    scores = [answer_relevance(i.question, i.output, i.passages) for i in items]
    good = [s for s, i in zip(scores, items, strict=True) if i.good]
    bad = [s for s, i in zip(scores, items, strict=True) if not i.good]
    kinds = dict.fromkeys(i.kind for i in items)
    means = {
        f"mean_{kind}": statistics.fmean(
            s for s, i in zip(scores, items, strict=True) if i.kind == kind
        )
        for kind in kinds
    }
    answerable = _answerability(found)
    return Report(
        task="relevance",
        metrics={"auc": roc_auc(good, bad), **means, **answerable},
        items=len(items),
        details={
            "questions": len(found),
            "good": len(good),
            "bad": len(bad),
            "method": _method(),
        },
        per_item={"answer_relevance": scores},
        seconds=time.monotonic() - started,
    )


def _method() -> str:
    from agents import dense

    return f"words and meaning ({dense.MODEL}), blended" if dense.available() else "lexical"


def _answerability(found: Sequence[Case]) -> dict[str, float]:
    from agents.extractive import ANSWERABLE, answer

    def best(case: Case, passages: list[Passage]) -> float:
        sources = [(p.id, p.title, p.text) for p in passages]
        return answer(case.question.question, sources, max_words=40).relevance

    own = [best(c, c.own) for c in found]
    without = [best(c, c.without) for c in found]
    others = [best(c, c.others) for c in found]

    def balanced(threshold: float) -> float:
        answered = sum(v >= threshold for v in own) / len(own)
        return (answered + sum(v < threshold for v in without) / len(without)) / 2

    steps = [n / 100 for n in range(5, 96)]
    return {
        "answerable_auc_other_articles": roc_auc(own, others),
        "answerable_auc_without_its_paragraph": roc_auc(own, without),
        "answered_with_its_paragraph": sum(v >= ANSWERABLE for v in own) / len(own),
        "abstained_without_it": sum(v < ANSWERABLE for v in without) / len(without),
        "abstained_on_other_articles": sum(v < ANSWERABLE for v in others) / len(others),
        "threshold": ANSWERABLE,
        "best_threshold_without_it": max(steps, key=balanced) if own else ANSWERABLE,
    }
