"""``celeriac eval translation``: corpus BLEU and chrF of the translation agent's output."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from rich.console import Console

from agents.scoring.metrics import translation_metrics, translation_scorer
from orchestrator.client import Client
from orchestrator.eval.runs import (
    Failures,
    Over,
    Ran,
    Report,
    even_batches,
    run_jobs,
    scored,
    step_output,
)
from orchestrator.models import Plan, Step

# Translation steps of about this many characters (one run of Apertium's pipeline, its
# agent's batch), two at a time: a run costs ~0.1 s to start, then translates ~1,000
# segments a second with its stages on both cores, so a second step in flight only covers
# the next run's start, and fewer, larger steps beat many small ones (benchmarks/evals.py).
BATCH_CHARS = 50_000
IN_FLIGHT = 2


def translation_step(
    text: str, source_lang: str, target_lang: str, references: Sequence[str] = ()
) -> Step:
    data = {"text": text, "source_lang": source_lang, "target_lang": target_lang}
    # Scored against references: without them, a step is scored by translating it back,
    # which takes as long as translating it.
    reference = {"texts": list(references)} if references else None
    return Step(id="translate", agent="translation", input=data, reference=reference)


Scorer = Future[Callable[[Sequence[str]], dict[str, float]]]


def prepare_references(references: Sequence[Sequence[str]]) -> Scorer:
    """``translation_scorer(references)``, made in a thread of its own (sacrebleu's import
    and the references' n-grams, ~0.6 s for 1,000 lines): start it before the deployment.
    A daemon thread: a command that fails before the metrics does not wait for it."""
    future: Scorer = Future()

    def prepare() -> None:
        try:
            future.set_result(translation_scorer(references))
        except BaseException as exc:  # given to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=prepare, name="references", daemon=True).start()
    return future


def evaluate_translation(
    client: Client,
    sources: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    source_lang: str,
    target_lang: str,
    batch_chars: int = BATCH_CHARS,
    in_flight: int = IN_FLIGHT,
    over: Over = "all",
    console: Console,
    prepared: Scorer | None = None,
) -> tuple[Report, list[str]]:
    """Corpus BLEU and chrF of the translations; the translations, line by line (a line
    of a failed batch is empty). The references' share of the metrics is computed while
    the deployment starts (``prepared``, else here)."""
    started = time.monotonic()
    scorer = prepared or prepare_references(references)
    chunks = even_batches(sources, batch_chars)
    starts = [0, *itertools.accumulate(map(len, chunks))]
    plans = []
    for chunk, start in zip(chunks, starts, strict=False):
        refs = ["\n".join(ref[start : start + len(chunk)]) for ref in references]
        step = translation_step("\n".join(chunk), source_lang, target_lang, refs)
        plans.append(Plan(steps=[step]))
    if plans:
        client.check_ready(plans[0])
    label = f"batches of ~{batch_chars:,} characters"
    results = run_jobs(client, plans, console, label, in_flight=in_flight)
    hypotheses, ok, failures = _hypotheses(chunks, results)
    failures.require_some(len(sources), "lines")
    return Report(
        task="translation",
        metrics=_metrics(scorer, hypotheses, references, ok, over),
        items=len(sources),
        failures=failures,
        over=over,
        details={
            "source_lang": source_lang,
            "target_lang": target_lang,
            "references": len(references),
            "steps": len(plans),
        },
        seconds=time.monotonic() - started,
    ), hypotheses


def _metrics(
    scorer: Scorer,
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    ok: Sequence[bool],
    over: Over,
) -> dict[str, float]:
    """BLEU and chrF over every line (the prepared scorer's), or the succeeded ones'."""
    if over == "all" or all(ok):
        return scorer.result()(hypotheses)
    return translation_metrics(
        scored(hypotheses, ok, over), [scored(ref, ok, over) for ref in references]
    )


def _hypotheses(
    chunks: Sequence[Sequence[str]], results: Sequence[Ran]
) -> tuple[list[str], list[bool], Failures]:
    """The translated lines (empty for a line of a batch that failed), whether each line's
    batch succeeded, and why those failed."""
    hypotheses: list[str] = []
    ok: list[bool] = []
    failures = Failures()
    for chunk, result in zip(chunks, results, strict=True):
        output, error = step_output(result, "translate")
        lines = str(output["text"]).split("\n") if output else []
        if output and len(lines) != len(chunk):
            error = f"the translation of {len(chunk)} lines came back with {len(lines)}"
        if error:
            failures.add(error, len(chunk))
            lines = [""] * len(chunk)
        hypotheses.extend(lines)
        ok.extend([not error] * len(chunk))
    return hypotheses, ok, failures
