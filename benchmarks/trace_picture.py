"""``python -m benchmarks.trace_picture [PNG]``: run a real job traced, and draw its trace.

A diamond on two worker processes of one slot each: ``a`` asks the model, ``b`` and ``c``
meet at a barrier (so each runs in its own worker), ``d`` asks the model again; the model is
the OpenAI-compatible test server, answering after 0.2 s. Every process exports its spans
over OTLP/HTTP to a receiver in this one (tests/support/otlp.py), and the spans of the job's
trace are drawn as a waterfall, one colour a process (default docs/trace.png).
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

from benchmarks.deployment import MODEL_SETTINGS, Deployment, check, model_endpoint, repo_root
from benchmarks.tracing import traced
from tests.support.helpers import wait_for
from tests.support.otlp import OTLPReceiver, ReceivedSpan

MODEL_DELAY = 0.2


def diamond() -> dict[str, Any]:
    meet = {"name": uuid.uuid4().hex, "parties": 2}
    return {
        "steps": [
            {"id": "a", "agent": "ask", "input": {"question": "Which colour is the sky?"}},
            {"id": "b", "agent": "barrier", "input": meet, "depends_on": ["a"]},
            {"id": "c", "agent": "barrier", "input": meet, "depends_on": ["a"]},
            {
                "id": "d",
                "agent": "ask",
                "input": {"question": "And grass?"},
                "depends_on": ["b", "c"],
            },
        ]
    }


def traced_job() -> tuple[str, list[ReceivedSpan]]:
    """Run the diamond traced; its trace id and spans."""
    with OTLPReceiver() as receiver, model_endpoint(MODEL_DELAY):
        with traced(receiver.endpoint):
            overrides = {**MODEL_SETTINGS, "worker_concurrency": 1}
            with Deployment(workers=2, **overrides) as live:
                result = check(live.run(diamond()))
        assert result.trace_id is not None
        trace_id = result.trace_id
        wanted = {"celeriac.submit", "celeriac.finalize", "step a", "step b", "step c", "step d"}
        wait_for(lambda: wanted <= {s.name for s in receiver.spans(trace_id)}, what="the spans")
        return trace_id, receiver.spans(trace_id)


def in_tree_order(spans: list[ReceivedSpan]) -> list[tuple[int, ReceivedSpan]]:
    """(depth, span), each span after its parent, siblings by start."""
    children: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        children.setdefault(span.parent_id, []).append(span)
    ordered: list[tuple[int, ReceivedSpan]] = []

    def visit(parent: str, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start):
            ordered.append((depth, span))
            visit(span.span_id, depth + 1)

    visit("", 0)
    return ordered


def label(span: ReceivedSpan) -> str:
    attributes = span.attributes
    if "gen_ai.usage.input_tokens" in attributes:
        tokens = attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]
        return f"{span.name}  ({tokens[0]} in / {tokens[1]} out tokens)"
    if "celeriac.worker" in attributes:
        worker = str(attributes["celeriac.worker"]).split("@")[0]
        return f"{span.name}  (attempt {attributes['celeriac.step.attempt']}, {worker})"
    return span.name


def draw(trace_id: str, spans: list[ReceivedSpan], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    rows = in_tree_order(spans)
    origin = min(span.start for span in spans)
    processes = sorted({span.pid for span in spans})
    colours = plt.get_cmap("tab10")
    figure, axes = plt.subplots(figsize=(11, 0.42 * len(rows) + 1.4))
    for row, (_, span) in enumerate(rows):
        start, width = (span.start - origin) * 1000, max((span.end - span.start) * 1000, 0.8)
        colour = colours(processes.index(span.pid) % 10)
        axes.barh(row, width, left=start, color=colour, edgecolor="black", linewidth=0.4)
        axes.text(start + width + 4, row, f"{width:.0f} ms", va="center", fontsize=8)
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels([label(span) + "   " * depth for depth, span in rows], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("ms since the submit")
    axes.set_title(
        f"One job, one trace ({trace_id}): colour = process, children indented", fontsize=9
    )
    handles = [Rectangle((0, 0), 1, 1, color=colours(i % 10)) for i in range(len(processes))]
    workers = [pid for pid in processes if pid != os.getpid()]
    names = [
        "client" if pid == os.getpid() else f"worker process {workers.index(pid) + 1}"
        for pid in processes
    ]
    axes.legend(handles, names, fontsize=8, loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str]) -> None:
    path = Path(argv[0]) if argv else repo_root() / "docs" / "trace.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    trace_id, spans = traced_job()
    draw(trace_id, spans, path)
    print(f"drew the {len(spans)} spans of trace {trace_id} in {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
