"""An evaluation as an HTML page: its metrics, its counts, and plots (matplotlib, as SVG).

matplotlib is the ``report`` extra (``pip install 'celeriac[report]'``); the rest of
celeriac does not need it.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

from orchestrator.errors import UserError
from orchestrator.eval.runs import Report

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
td, th {{ border: 1px solid #ccc; padding: .3rem .8rem; text-align: left; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
figure {{ margin: 1.5rem 0; }}
</style></head><body>
<h1>{title}</h1>
<p>{summary}</p>
<h2>Metrics</h2>
<p>Over {over}.</p>
<table><tr><th>metric</th><th>value</th></tr>{metrics}</table>
{failures}
<h2>Run</h2>
<table>{details}</table>
{figures}
</body></html>
"""


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    return buffer.getvalue().split("?>", 1)[-1]  # inline: no XML declaration


def _figures(report: Report) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    bar, ax = plt.subplots(figsize=(7, 3))
    names = list(report.metrics)
    ax.barh(names, [report.metrics[n] for n in names], color="#4a7ab0")
    ax.invert_yaxis()
    ax.set_xlabel("value")
    figures.append(("All metrics", _svg(bar)))
    plt.close(bar)
    for name, values in list(report.per_item.items())[:4]:
        histogram, ax = plt.subplots(figsize=(7, 2.6))
        ax.hist(values, bins=20, range=(0.0, 1.0), color="#6a9f58")
        ax.set_xlabel(name)
        ax.set_ylabel("items")
        figures.append(
            (f"{name} per item (mean {report.metrics.get(name, 0.0):.3f})", _svg(histogram))
        )
        plt.close(histogram)
    return figures


def write_report(path: Path, report: Report, command: str) -> None:
    """Write ``report`` as a standalone HTML page to ``path``."""
    try:
        figures = _figures(report)
    except ImportError:
        raise UserError("--report needs matplotlib: pip install 'celeriac[report]'") from None
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td class=n>{value:.4f}</td></tr>"
        for name, value in report.metrics.items()
    )
    details = {**report.as_json(), "command": command}
    details.pop("metrics")
    details.pop("errors")
    failures = ""
    if report.failed:
        failure_rows = "".join(
            f"<tr><td class=n>{reason['count']}</td><td>{html.escape(reason['error'])}</td></tr>"
            for reason in report.failures.reasons()
        )
        failures = (
            f"<h2>Failures</h2><p>{report.failed} of {report.items} items failed.</p>"
            f"<table><tr><th>items</th><th>first error of the kind</th></tr>{failure_rows}</table>"
        )
    detail_rows = "".join(
        f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(str(value))}</td></tr>"
        for key, value in details.items()
    )
    figures_html = "".join(
        f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>"
        for caption, svg in figures
    )
    summary = (
        f"{report.items} items evaluated through celeriac's workers"
        + (f", {report.failed} of them failed" if report.failed else "")
        + f", in {report.seconds:.1f} s."
    )
    page = PAGE.format(
        title=html.escape(f"celeriac eval {report.task}"),
        summary=html.escape(summary),
        over=html.escape(report.over_text()),
        metrics=rows,
        failures=failures,
        details=detail_rows,
        figures=figures_html,
    )
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write the report to {path}: {exc.strerror or exc}") from None
