"""The comparison of ``--check`` on small results structures, as write_json writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.check import BaselineError, Finding, compare, load, regressed, render


def table(
    rows: list[dict[str, Any]],
    checked: dict[str, str] | None = None,
    key: list[str] | None = None,
    title: str = "Latency",
) -> dict[str, Any]:
    return {
        "title": title,
        "rows": rows,
        "notes": [],
        "checked": {"p50_ms": "lower"} if checked is None else checked,
        "key": ["workers"] if key is None else key,
    }


def results(*tables: dict[str, Any], name: str = "latency", error: str | None = None) -> Any:
    section = {"name": name, "command": "python -m benchmarks", "error": error}
    return {"machine": {}, "benchmarks": {name: {**section, "tables": list(tables)}}}


def one(old: float, new: float, better: str = "lower", tolerance: float = 0.10) -> Finding:
    """The one finding of a one-row table whose figure went from ``old`` to ``new``."""
    checked = {"figure": better}
    baseline = results(table([{"workers": 1, "figure": old}], checked))
    current = results(table([{"workers": 1, "figure": new}], checked))
    (finding,) = compare(baseline, current, tolerance)
    return finding


def test_a_regression_over_the_tolerance_fails() -> None:
    finding = one(10.0, 12.0)
    assert (finding.status, finding.baseline, finding.current) == ("regressed", 10.0, 12.0)
    assert finding.change == pytest.approx(0.20)
    assert (finding.benchmark, finding.table, finding.row) == ("latency", "Latency", "workers=1")
    assert regressed([finding])


@pytest.mark.parametrize(("old", "new"), [(10.0, 10.5), (10.0, 9.5), (100.0, 110.0)])
def test_a_change_within_the_tolerance_passes(old: float, new: float) -> None:
    finding = one(old, new)
    assert finding.status == "ok"
    assert not regressed([finding])


@pytest.mark.parametrize(
    ("better", "new", "status"),
    [
        ("lower", 12.0, "regressed"),
        ("lower", 8.0, "improved"),
        ("higher", 12.0, "improved"),
        ("higher", 8.0, "regressed"),
    ],
)
def test_the_direction_decides_what_is_worse(better: str, new: float, status: str) -> None:
    assert one(10.0, new, better).status == status


def test_an_improvement_passes() -> None:
    finding = one(1000.0, 1500.0, "higher")
    assert finding.status == "improved"
    assert finding.change == pytest.approx(0.5)
    assert not regressed([finding])


def test_the_tolerance_is_configurable() -> None:
    assert one(10.0, 12.0, tolerance=0.25).status == "ok"
    assert one(10.0, 10.5, tolerance=0.0).status == "regressed"


def test_rows_on_one_side_only_are_not_compared() -> None:
    baseline = results(table([{"workers": 1, "p50_ms": 5.0}, {"workers": 2, "p50_ms": 5.0}]))
    current = results(table([{"workers": 1, "p50_ms": 9.0}, {"workers": 3, "p50_ms": 5.0}]))
    findings = {f.row: f for f in compare(baseline, current)}
    assert findings["workers=1"].status == "regressed"
    assert findings["workers=3"].status == "not compared"
    assert findings["workers=3"].why == "the baseline has no such row"
    assert findings["workers=2"].status == "not compared"
    assert findings["workers=2"].why == "this run has no such row"
    assert len(findings) == 3


def test_the_whole_key_must_match() -> None:
    key = ["workers", "jobs"]
    baseline = results(table([{"workers": 1, "jobs": 50, "p50_ms": 5.0}], key=key))
    current = results(table([{"workers": 1, "jobs": 10, "p50_ms": 50.0}], key=key))
    assert sorted((f.row, f.why) for f in compare(baseline, current)) == [
        ("workers=1, jobs=10", "the baseline has no such row"),
        ("workers=1, jobs=50", "this run has no such row"),
    ]


def test_tables_and_benchmarks_on_one_side_only_are_not_compared() -> None:
    rows = [{"workers": 1, "p50_ms": 5.0}]
    baseline = results(table(rows, title="Old title"))
    findings = compare(baseline, results(table(rows, title="New title")))
    assert [(f.table, f.status, f.why) for f in findings] == [
        ("New title", "not compared", "the baseline has no such table"),
        ("Old title", "not compared", "this run has no such table"),
    ]
    (missing,) = compare(results(name="other"), results(table(rows)))
    assert (missing.benchmark, missing.why) == ("latency", "the baseline has no such benchmark")


def test_failed_runs_and_unchecked_benchmarks_are_not_compared() -> None:
    rows = [{"workers": 1, "p50_ms": 5.0}]
    (failed,) = compare(results(table(rows)), results(error="BenchmarkError: boom"))
    assert failed.why == "this run failed: BenchmarkError: boom"
    (old_failed,) = compare(results(error="OSError: x"), results(table(rows)))
    assert old_failed.why == "the baseline's run failed: OSError: x"
    (unchecked,) = compare(results(table(rows)), results(table(rows, checked={})))
    assert unchecked.why.startswith("none of its columns is checked")


def test_the_direction_and_key_come_from_this_run_not_the_baseline() -> None:
    old = {"title": "Latency", "rows": [{"workers": 1, "p50_ms": 5.0}], "notes": []}
    (finding,) = compare(results(old), results(table([{"workers": 1, "p50_ms": 6.0}])))
    assert finding.status == "regressed"


def test_a_key_that_does_not_tell_rows_apart_compares_nothing() -> None:
    rows = [{"workers": 1, "p50_ms": 5.0}, {"workers": 1, "p50_ms": 50.0}]
    (finding,) = compare(results(table(rows)), results(table(rows)))
    assert finding.status == "not compared"
    assert finding.why == "key (workers) does not tell its rows apart"


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        (None, 5.0, "no value in the baseline"),
        (5.0, None, "no value in this run"),
        ("1.0-2.0", 5.0, "no value in the baseline"),
        (float("nan"), 5.0, "no value in the baseline"),
        (0.0, 5.0, "the baseline is 0"),
    ],
)
def test_a_figure_without_two_values_is_not_compared(old: Any, new: Any, why: str) -> None:
    baseline = results(table([{"workers": 1, "p50_ms": old}]))
    (finding,) = compare(baseline, results(table([{"workers": 1, "p50_ms": new}])))
    assert (finding.status, finding.why) == ("not compared", why)


def test_the_report_shows_every_finding_and_counts_them() -> None:
    baseline = results(table([{"workers": 1, "p50_ms": 10.0}, {"workers": 2, "p50_ms": 10.0}]))
    current = results(table([{"workers": 1, "p50_ms": 12.0}, {"workers": 3, "p50_ms": 10.0}]))
    text = render(compare(baseline, current), Path("base.json"), 0.10)
    lines = text.splitlines()
    assert lines[0] == "Check against base.json (a regression: more than 10% worse)"
    header = ["benchmark", "table", "row", "figure", "baseline", "this", "run", "change"]
    assert lines[1].split() == [*header, "verdict"]
    row = next(line for line in lines if "workers=1" in line and "p50_ms" in line)
    assert row.split() == [
        "latency",
        "Latency",
        "workers=1",
        "p50_ms",
        "10",
        "12",
        "+20.0%",
        "regressed",
    ]
    missing = next(line for line in lines if "workers=3" in line)
    assert missing.endswith("not compared: the baseline has no such row")
    assert "1 figures compared: 1 regressed, 0 improved by more than 10%, 0 within it; " in text
    assert "2 not compared" in text
    assert lines[-1] == (
        "REGRESSED: latency / Latency / workers=1 / p50_ms: 10 -> 12 (+20.0%; lower is better)"
    )


def test_a_missing_or_foreign_baseline_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match=r"no baseline at .*write one first"):
        load(tmp_path / "latest.json")
    (tmp_path / "other.json").write_text('{"rows": []}')
    with pytest.raises(BaselineError, match="not a results file"):
        load(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(BaselineError, match="cannot read the baseline"):
        load(tmp_path / "broken.json")
