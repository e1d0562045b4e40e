"""``python -m benchmarks [NAME ...] [--quick] [--repeats N] [--output PATH]``.

Runs the named benchmarks (all when none), prints a table for each with the
machine's facts, and writes everything as JSON: to benchmarks/results/latest.json,
or to benchmarks/results/quick.json with ``--quick``, so a smoke run never
replaces real figures.
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

from benchmarks import (
    bm25,
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
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


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


def main(argv: list[str]) -> int:
    args = parse(argv)
    names = args.names or list(BENCHMARKS)
    command = shlex.join(["python", "-m", "benchmarks", *argv])
    # Figures are for celeriac's defaults, not whatever this shell has set.
    for variable in [name for name in os.environ if name.startswith("CELERIAC_")]:
        del os.environ[variable]
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
    output = args.output or RESULTS / ("quick.json" if args.quick else "latest.json")
    write_json(output, facts, sections)
    print(f"wrote {output}")
    return 1 if any(section.error for section in sections) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
