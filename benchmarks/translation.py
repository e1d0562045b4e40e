"""Offline translation with Apertium (English to Spanish): speed, and whether lines survive.

No Redis or workers: this is one translation step's ``Translation.run`` on one thread
(the Celery path around a step is measured by ``throughput``). The text is generated, no
downloads: support-article paragraphs drawn by a seeded generator from a fixed set of
sentences we wrote, each paragraph under a headline without final punctuation, as in
the text that made words drift between lines.

For comparison, on the same text: the ``apertium`` command once per segment (the only
other way to keep every segment on its own line), and once for the whole text in its
txt format (fast, but segments may come back merged, split or changed).
"""

from __future__ import annotations

import random
import subprocess
import time
from typing import Any

from agents.base import StepContext
from agents.translation import Translation, TranslationInput, split_segments
from benchmarks.report import Column, Table, fixed, median

SEED = 20261129
HEADLINES = [
    "Reset a forgotten password",
    "Invoices and billing",
    "Change the e-mail address of an account",
    "Export your data",
    "Two-step verification",
    "Close an account",
]
SENTENCES = [
    "Open the login page and click the link under the password field.",
    "We send you an e-mail with a link that works for one hour.",
    "If the e-mail does not arrive, look in your spam folder.",
    "Invoices are sent on the first day of every month.",
    "You can download every invoice from the billing page.",
    "The new address must be confirmed before it is used.",
    "Your data is exported as a file that you can open in a spreadsheet.",
    "An administrator can turn on two-step verification for the whole team.",
    "Codes from the phone application change every thirty seconds.",
    "When an account is closed, its files are kept for thirty days.",
    "Contact support if you cannot sign in after three attempts.",
    "The red button at the bottom of the page saves your changes",
]
SIZES = {False: (10_000, 200_000, 1_000_000), True: (10_000, 100_000)}
SINGLE = 30  # segments translated one process each


def text(chars: int) -> str:
    """About ``chars`` characters of headlines and paragraphs, always the same ones."""
    rng = random.Random(SEED)
    parts: list[str] = []
    size = 0
    while size < chars:
        paragraph = " ".join(rng.choices(SENTENCES, k=rng.randint(1, 4)))
        lines = [rng.choice(HEADLINES), paragraph]
        if rng.random() < 0.3:
            lines.append(f"- {rng.choice(SENTENCES)}")
        block = "\n".join(lines)
        parts.append(block)
        size += len(block) + 2
    return "\n\n".join(parts) + "\n"


def agent_rate(original: str, repeats: int) -> dict[str, Any]:
    agent = Translation()
    context = StepContext(job_id="b", step_id="s", attempt=1, agent="translation")
    one = TranslationInput(text=original, source_lang="en", target_lang="es")
    walls, out = [], ""
    for _ in range(repeats):
        start = time.perf_counter()
        out = agent.run(one, context).text
        walls.append(time.perf_counter() - start)
    segments, _ = split_segments(original)
    wall = median(walls)
    return {
        "chars": len(original),
        "segments": len(segments),
        "seconds": wall,
        "segments_per_s": len(segments) / wall,
        "chars_per_s": len(original) / wall,
        "lines_kept": _same_layout(original, out),
    }


def _same_layout(original: str, translated: str) -> bool:
    """Same lines, the same blank lines and the same indentation."""
    before, after = original.split("\n"), translated.split("\n")
    return len(before) == len(after) and all(
        (not a.strip()) == (not b.strip())
        and a[: len(a) - len(a.lstrip())] == b[: len(b) - len(b.lstrip())]
        for a, b in zip(before, after, strict=True)
    )


def command_rates(original: str) -> list[dict[str, Any]]:
    segments, _ = split_segments(original)
    start = time.perf_counter()
    for segment in segments[:SINGLE]:
        _apertium(segment)
    single = time.perf_counter() - start
    start = time.perf_counter()
    whole = _apertium(original)
    batch = time.perf_counter() - start
    return [
        {
            "way": f"`apertium -u eng-spa` per segment (first {SINGLE})",
            "segments_per_s": SINGLE / single,
            "chars_per_s": sum(map(len, segments[:SINGLE])) / single,
            "lines_kept": True,
        },
        {
            "way": "`apertium -u eng-spa` on the whole text",
            "segments_per_s": len(segments) / batch,
            "chars_per_s": len(original) / batch,
            "lines_kept": _same_layout(original, whole),
        },
    ]


def _apertium(text: str) -> str:
    done = subprocess.run(
        ["apertium", "-u", "eng-spa"], input=text, capture_output=True, text=True, timeout=600
    )
    done.check_returncode()
    return done.stdout


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    repeats = repeats or (1 if quick else 3)
    ours = Table(
        "Translation.run offline, Apertium eng-spa (one thread; median of runs)",
        [
            Column("chars", "characters", fixed(0)),
            Column("segments", "segments", fixed(0)),
            Column("seconds", "seconds", fixed(2)),
            Column("segments_per_s", "segments/s", fixed(0)),
            Column("chars_per_s", "chars/s", fixed(0), better="higher"),
            Column("lines_kept", "lines kept"),
        ],
        key=("chars",),
    )
    for size in SIZES[quick]:
        ours.rows.append(agent_rate(text(size), repeats))
    others = Table(
        "The apertium command, for comparison (same text, 10,000 characters)",
        [
            Column("way", "way", left=True),
            Column("segments_per_s", "segments/s", fixed(1)),
            Column("chars_per_s", "chars/s", fixed(0)),
            Column("lines_kept", "lines kept"),
        ],
        rows=command_rates(text(SIZES[quick][0])),
    )
    ours.notes += [
        f"generated support text (seed {SEED}): headlines without final punctuation, "
        "paragraphs of 1-4 sentences, some list items",
        "segments: the non-blank stretch of each line; sent through one null-flush "
        "pipeline run per 50,000 characters",
        "lines kept: the same lines, blank lines and indentation as the original",
    ]
    return [ours, others]
