"""``python -m benchmarks --check``: in process with a stub benchmark, and end to end with
``startup --quick`` (about 8 s a run on 2 cores)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks import __main__ as cli
from benchmarks.report import Column, Table
from tests.support.helpers import ROOT


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[float], None]:
    """A benchmark named ``stub`` whose one checked figure is what the test sets, with
    the results folder in ``tmp_path``; ``run.calls`` counts its runs."""
    figure: list[float] = []

    def run(quick: bool, repeats: int | None) -> list[Table]:
        columns = [Column("case", "case"), Column("per_s", "per s", better="higher")]
        rows = [{"case": "a", "per_s": figure[-1]}]
        return [Table("Stub", columns, rows=rows, key=("case",))]

    monkeypatch.setitem(cli.BENCHMARKS, "stub", run)
    monkeypatch.setattr(cli, "RESULTS", tmp_path)
    return figure.append


def test_check_writes_check_json_and_leaves_the_baseline(
    stub: Callable[[float], None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stub(1000.0)
    assert cli.main(["stub", "--output", str(tmp_path / "latest.json")]) == 0
    latest = (tmp_path / "latest.json").read_bytes()
    assert json.loads(latest)["benchmarks"]["stub"]["tables"][0]["checked"] == {"per_s": "higher"}
    stub(950.0)
    assert cli.main(["stub", "--check"]) == 0
    assert (tmp_path / "latest.json").read_bytes() == latest
    checked = json.loads((tmp_path / "check.json").read_text())
    assert checked["benchmarks"]["stub"]["tables"][0]["rows"] == [{"case": "a", "per_s": 950.0}]
    out = capsys.readouterr().out
    assert f"Check against {tmp_path / 'latest.json'}" in out
    assert "1 figures compared: 0 regressed, 0 improved by more than 10%, 1 within it" in out


def test_a_run_of_some_benchmarks_leaves_the_committed_figures(
    stub: Callable[[float], None], tmp_path: Path
) -> None:
    (tmp_path / "latest.json").write_text("{}")
    stub(1000.0)
    assert cli.main(["stub"]) == 0
    assert (tmp_path / "latest.json").read_text() == "{}"
    written = json.loads((tmp_path / "partial.json").read_text())
    assert list(written["benchmarks"]) == ["stub"]


def test_check_fails_on_a_regression(
    stub: Callable[[float], None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stub(1000.0)
    assert cli.main(["stub", "--output", str(tmp_path / "base.json")]) == 0
    stub(850.0)
    assert cli.main(["stub", "--check", str(tmp_path / "base.json")]) == 1
    assert 'REGRESSED: stub / Stub / case="a" / per_s: 1,000 -> 850 (-15.0%' in (
        capsys.readouterr().out
    )
    assert cli.main(["stub", "--check", str(tmp_path / "base.json"), "--tolerance", "0.2"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stub", "--check"], "no baseline at"),
        (["--check", "startup"], "name it before --check"),
        (["stub", "--tolerance", "0.2"], "--tolerance is for --check"),
        (["stub", "--check", "x.json", "--tolerance", "10"], "0.10 is 10%"),
    ],
)
def test_bad_check_options_stop_before_anything_runs(
    stub: Callable[[float], None],
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    (tmp_path / "x.json").write_text('{"benchmarks": {}}')
    argv = [str(tmp_path / arg) if arg == "x.json" else arg for arg in argv]
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "check.json").exists()


def test_startup_quick_checked_end_to_end(tmp_path: Path) -> None:
    """A baseline from one quick run, made 10x faster in wall_s and 10x slower in
    cli_import_s, so that the second run's verdicts do not depend on the machine's noise."""
    base, out = tmp_path / "base.json", tmp_path / "check.json"
    command = [sys.executable, "-m", "benchmarks", "startup", "--quick"]
    subprocess.run([*command, "--output", str(base)], cwd=ROOT, check=True, capture_output=True)
    data = json.loads(base.read_text())
    (row,) = data["benchmarks"]["startup"]["tables"][0]["rows"]
    row["wall_s"] /= 10
    row["cli_import_s"] *= 10
    base.write_text(json.dumps(data))
    done = subprocess.run(
        [*command, "--check", str(base), "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    (regression,) = [line for line in done.stdout.splitlines() if line.startswith("REGRESSED")]
    assert regression.startswith("REGRESSED: startup / Startup: `celeriac run")
    assert "/ (its one row) / wall_s: " in regression
    assert "2 figures compared: 1 regressed, 1 improved by more than 10%" in done.stdout
    assert json.loads(base.read_text()) == data
    (table,) = json.loads(out.read_text())["benchmarks"]["startup"]["tables"]
    assert table["checked"] == {"wall_s": "lower", "cli_import_s": "lower"}
    assert table["key"] == []
