"""What a table declares for ``--check``: its checked figures, its row key, in its JSON."""

from __future__ import annotations

import ast

import pytest

from benchmarks.report import Column, Table
from tests.support.helpers import ROOT

COLUMNS = [
    Column("workers", "workers"),
    Column("p50_ms", "p50 ms", better="lower"),
    Column("per_s", "per s", better="higher"),
    Column("runs", "runs"),
]


def test_the_json_carries_the_checked_figures_and_the_key() -> None:
    table = Table("T", COLUMNS, rows=[{"workers": 1, "p50_ms": 2.0}], key=("workers",))
    data = table.as_json()
    assert data["checked"] == {"p50_ms": "lower", "per_s": "higher"}
    assert data["key"] == ["workers"]
    assert data["rows"] == [{"workers": 1, "p50_ms": 2.0}]


def test_a_table_checking_nothing_needs_no_key() -> None:
    data = Table("T", [Column("workers", "workers")]).as_json()
    assert data["checked"] == {}
    assert data["key"] is None


def test_a_table_checking_a_figure_must_name_its_key() -> None:
    with pytest.raises(ValueError, match="names no key"):
        Table("T", COLUMNS)
    assert Table("T", COLUMNS, key=()).as_json()["key"] == []


def test_a_checked_figure_cannot_be_part_of_the_key() -> None:
    with pytest.raises(ValueError, match="p50_ms is checked and in its key"):
        Table("T", COLUMNS, key=("workers", "p50_ms"))


def test_every_table_that_checks_a_figure_names_its_key() -> None:
    """What ``Table`` would raise only once a benchmark has run, found in its source now."""
    keyless = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and ast.unparse(node.func) == "Table"):
                continue
            checks = "better=" in ast.unparse(node)
            if checks and "key" not in {keyword.arg for keyword in node.keywords}:
                keyless.append(f"{path.name}:{node.lineno}")
    assert keyless == []
