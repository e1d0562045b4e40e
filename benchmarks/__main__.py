"""``python -m benchmarks [NAME ...] [--quick] [--repeats N] [--output PATH]
[--check [BASELINE] [--tolerance 0.10]]``.

Runs the named benchmarks (all when none), prints a table for each with the
machine's facts, and writes everything as JSON: a run of all of them to
benchmarks/results/latest.json, a run of some to benchmarks/results/partial.json,
and one with ``--quick`` to benchmarks/results/quick.json, so neither a smoke run
nor one benchmark run again (perhaps on a busy machine) replaces the committed
figures. With ``--check`` it then compares this run's checked
figures with BASELINE's (benchmarks/results/latest.json by default; see
benchmarks/check.py), writes to benchmarks/results/check.json instead, and exits
non-zero when one is more than the tolerance worse.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import (
    bm25,
    check,
    concurrency,
    cost,
    critical,
    dispatch,
    evals,
    fanout,
    gateway,
    latency,
    layouts,
    memory,
    sdk,
    startup,
    throughput,
    tracing,
    translation,
)
from benchmarks.deployment import repo_root
from benchmarks.report import (
    Section,
    Table,
    describe_machine,
    machine_cpu_seconds,
    machine_facts,
    own_cpu_seconds,
    results,
    write_json,
)

BENCHMARKS: dict[str, Callable[[bool, int | None], list[Table]]] = {
    "dispatch": dispatch.run,
    "throughput": throughput.run,
    "latency": latency.run,
    "fanout": fanout.run,
    "critical": critical.run,
    "concurrency": concurrency.run,
    "sdk": sdk.run,
    "memory": memory.run,
    "startup": startup.run,
    "bm25": bm25.run,
    "translation": translation.run,
    "eval": evals.run,
    "gateway": gateway.run,
    "tracing": tracing.run,
    "cost": cost.run,
    "layouts": layouts.run,
}
RESULTS = Path(__file__).resolve().parent / "results"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="celeriac's benchmarks, each on a private Redis and real worker processes.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    parser.add_argument(
        "--repeats", type=int, default=None, help="runs per figure (default 3, 1 with --quick)"
    )
    parser.add_argument("--output", type=Path, default=None, help="where to write the JSON")
    parser.add_argument(
        "--check",
        type=Path,
        nargs="?",
        const=RESULTS / "latest.json",
        default=None,
        metavar="BASELINE",
        help="compare the checked figures with BASELINE's (default: results/latest.json) "
        "and fail on a regression; writes results/check.json unless --output is given",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help=f"with --check: how much worse a figure may be (default {check.TOLERANCE}: 10%%)",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    check_options(parser, args)
    return args


def check_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Validate --check and --tolerance, and read the baseline now rather than after the run."""
    if args.check is None:
        if args.tolerance is not None:
            parser.error("--tolerance is for --check")
        return
    if str(args.check) in BENCHMARKS and not args.check.exists():
        parser.error(
            f"--check {args.check}: no such baseline file; to check the benchmark, name it "
            f"before --check (python -m benchmarks {args.check} --check)"
        )
    if args.tolerance is None:
        args.tolerance = check.TOLERANCE
    elif not 0 <= args.tolerance < 1:
        parser.error("--tolerance is a fraction of the baseline: 0.10 is 10%")
    try:
        args.baseline = check.load(args.check)
    except check.BaselineError as exc:
        parser.error(str(exc))


def run_one(name: str, args: argparse.Namespace, command: str) -> Section:
    section = Section(name=name, command=command)
    start, machine, own = time.perf_counter(), machine_cpu_seconds(), own_cpu_seconds()
    try:
        section.tables = BENCHMARKS[name](args.quick, args.repeats)
    except Exception as exc:
        section.error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    section.seconds = time.perf_counter() - start
    ours = own_cpu_seconds() - own
    section.own_cpu_cores = ours / section.seconds
    section.other_cpu_cores = max(0.0, machine_cpu_seconds() - machine - ours) / section.seconds
    return section


def run_all(names: list[str], args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Run and print each benchmark; everything measured, as its JSON file holds it."""
    facts = machine_facts(repo_root())
    print(f"$ {command}\nmachine: {describe_machine(facts)}\n", flush=True)
    sections = []
    for name in names:
        print(f"== {name} ==", flush=True)
        section = run_one(name, args, command)
        sections.append(section)
        for table in section.tables:
            print(table.render(), end="\n\n")
        outcome = f"FAILED: {section.error}" if section.error else "done"
        print(
            f"({name} {outcome} in {section.seconds:.0f} s; CPU meanwhile: ours "
            f"{section.own_cpu_cores:.2f} cores, other processes {section.other_cpu_cores:.2f} "
            f"of {facts['usable_cores']})\n",
            flush=True,
        )
    return results(facts, sections)


def default_output(args: argparse.Namespace) -> Path:
    if args.check is not None:
        return RESULTS / "check.json"
    if args.quick:
        return RESULTS / "quick.json"
    return RESULTS / ("partial.json" if args.names else "latest.json")


def check_against(data: dict[str, Any], args: argparse.Namespace) -> bool:
    """Print the check's report; whether no checked figure regressed."""
    machine = args.baseline.get("machine", {})
    print(f"baseline: {args.check}, run {machine.get('date')} at {machine.get('git_commit')}")
    findings = check.compare(args.baseline, data, args.tolerance)
    print(check.render(findings, args.check, args.tolerance))
    return not check.regressed(findings)


def main(argv: list[str]) -> int:
    args = parse(argv)
    names = args.names or list(BENCHMARKS)
    command = shlex.join(["python", "-m", "benchmarks", *argv])
    # Figures are for celeriac's defaults, not whatever this shell has set.
    for variable in [name for name in os.environ if name.startswith("CELERIAC_")]:
        del os.environ[variable]
    data = run_all(names, args, command)
    output = args.output or default_output(args)
    write_json(output, data)
    print(f"wrote {output}\n")
    failed = any(section["error"] for section in data["benchmarks"].values())
    if args.check is not None and not check_against(data, args):
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
