"""``python -m benchmarks --check [BASELINE]``: this run's checked figures against a baseline's.

A figure is checked when its column says which way is better (``Column(better=...)``).
The way and the row key are this run's (its JSON's ``checked`` and ``key``, written from
the table definitions), so a baseline written before a figure was marked is compared
all the same. A table is the one of the same title in the same benchmark; a row is the
one whose key fields (``Table.key``) are all equal. Whatever cannot be compared is
listed as not compared, never counted as passed: a benchmark, table or row one side
lacks, a key that does not tell the rows apart, a value that is missing or zero.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from benchmarks.report import Column, Table

TOLERANCE = 0.10
Status = Literal["regressed", "improved", "ok", "not compared"]
Identity = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Finding:
    """One line of the report: a figure compared, or what could not be, and why."""

    benchmark: str
    table: str = "-"
    row: str = "-"
    figure: str = "-"
    baseline: float | None = None
    current: float | None = None
    change: float | None = None  # (this run - baseline) / baseline
    status: Status = "not compared"
    why: str = ""


class BaselineError(ValueError):
    """The baseline file is missing or is not what ``python -m benchmarks`` writes."""


def load(path: Path) -> dict[str, Any]:
    """The results JSON at ``path``, or ``BaselineError`` saying what is wrong with it."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BaselineError(
            f"no baseline at {path}: write one first with `python -m benchmarks` "
            "(make bench), or name another with --check PATH"
        ) from None
    except (OSError, ValueError) as exc:
        raise BaselineError(f"cannot read the baseline {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), dict):
        raise BaselineError(f"{path} is not a results file of `python -m benchmarks`")
    return data


def compare(
    baseline: dict[str, Any], current: dict[str, Any], tolerance: float = TOLERANCE
) -> list[Finding]:
    """Every checked figure of ``current`` against ``baseline``, both results JSON as
    ``write_json`` writes them; benchmarks this run did not run are not looked at."""
    findings: list[Finding] = []
    for name, section in current["benchmarks"].items():
        old = baseline["benchmarks"].get(name)
        if section.get("error"):
            findings.append(Finding(name, why=f"this run failed: {section['error']}"))
        elif not any(table.get("checked") for table in section["tables"]):
            findings.append(Finding(name, why="none of its columns is checked (better=...)"))
        elif old is None:
            findings.append(Finding(name, why="the baseline has no such benchmark"))
        elif old.get("error"):
            findings.append(Finding(name, why=f"the baseline's run failed: {old['error']}"))
        else:
            findings += _tables(name, old["tables"], section["tables"], tolerance)
    return findings


def _tables(
    name: str, old: list[dict[str, Any]], new: list[dict[str, Any]], tolerance: float
) -> list[Finding]:
    old_by_title = {table["title"]: table for table in old}
    new_titles = {table["title"] for table in new}
    findings: list[Finding] = []
    for table in new:
        if not table.get("checked"):
            continue
        if table["title"] in old_by_title:
            findings += _rows(name, old_by_title[table["title"]], table, tolerance)
        else:
            findings.append(Finding(name, table["title"], why="the baseline has no such table"))
    for title, table in old_by_title.items():
        # A baseline that predates "checked" may have checked something here: say so.
        if title not in new_titles and table.get("checked", True):
            findings.append(Finding(name, title, why="this run has no such table"))
    return findings


def _rows(name: str, old: dict[str, Any], new: dict[str, Any], tolerance: float) -> list[Finding]:
    key: list[str] = new.get("key") or []
    old_rows = _by_identity(old["rows"], key)
    new_rows = _by_identity(new["rows"], key)
    findings: list[Finding] = []
    for identity, rows in new_rows.items():
        here = Finding(name, new["title"], _label(identity))
        matches = old_rows.get(identity, [])
        if len(rows) > 1 or len(matches) > 1:
            why = f"key ({', '.join(key)}) does not tell its rows apart"
            findings.append(replace(here, why=why))
        elif not matches:
            findings.append(replace(here, why="the baseline has no such row"))
        else:
            for figure, better in new["checked"].items():
                values = matches[0].get(figure), rows[0].get(figure)
                findings.append(_figure(here, figure, *values, better, tolerance))
    for identity in old_rows:
        if identity not in new_rows:
            findings.append(
                Finding(name, new["title"], _label(identity), why="this run has no such row")
            )
    return findings


def _by_identity(
    rows: list[dict[str, Any]], key: list[str]
) -> dict[Identity, list[dict[str, Any]]]:
    by: dict[Identity, list[dict[str, Any]]] = {}
    for row in rows:
        identity = tuple((field, json.dumps(row.get(field), sort_keys=True)) for field in key)
        by.setdefault(identity, []).append(row)
    return by


def _label(identity: Identity) -> str:
    return ", ".join(f"{field}={value}" for field, value in identity) or "(its one row)"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _figure(
    here: Finding, figure: str, old: Any, new: Any, better: str, tolerance: float
) -> Finding:
    baseline, current = _number(old), _number(new)
    here = replace(here, figure=figure, baseline=baseline, current=current)
    if baseline is None:
        return replace(here, why="no value in the baseline")
    if current is None:
        return replace(here, why="no value in this run")
    if baseline == 0:
        return replace(here, why="the baseline is 0")
    change = (current - baseline) / abs(baseline)
    gain = change if better == "higher" else -change
    status: Status = "regressed" if gain < -tolerance else "improved" if gain > tolerance else "ok"
    return replace(here, change=change, status=status, why=f"{better} is better")


def _short(text: str, width: int = 44) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def _value(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def render(findings: list[Finding], baseline: Path, tolerance: float) -> str:
    """The report: a line a finding, then the count of each outcome and the regressions."""
    table = Table(
        f"Check against {baseline} (a regression: more than {_percent(tolerance)} worse)",
        [
            Column("benchmark", "benchmark", left=True),
            Column("table", "table", _short, left=True),
            Column("row", "row", _short, left=True),
            Column("figure", "figure", left=True),
            Column("baseline", "baseline", _value),
            Column("current", "this run", _value),
            Column("change", "change", lambda change: f"{change:+.1%}"),
            Column("verdict", "verdict", left=True),
        ],
    )
    for finding in findings:
        verdict = (
            finding.status if finding.status != "not compared" else f"not compared: {finding.why}"
        )
        table.rows.append({**asdict(finding), "verdict": verdict})
    counts = Counter(finding.status for finding in findings)
    lines = [
        table.render(),
        "",
        f"{counts['ok'] + counts['improved'] + counts['regressed']} figures compared: "
        f"{counts['regressed']} regressed, {counts['improved']} improved by more than "
        f"{_percent(tolerance)}, {counts['ok']} within it; {counts['not compared']} not compared",
    ]
    lines += [_regression(finding) for finding in findings if finding.status == "regressed"]
    return "\n".join(lines)


def _regression(f: Finding) -> str:
    assert f.baseline is not None and f.current is not None and f.change is not None
    return (
        f"REGRESSED: {f.benchmark} / {_short(f.table)} / {f.row} / {f.figure}: "
        f"{_value(f.baseline)} -> {_value(f.current)} ({f.change:+.1%}; {f.why})"
    )


def regressed(findings: list[Finding]) -> bool:
    return any(finding.status == "regressed" for finding in findings)
