"""Figures: statistics, plain-text tables, the machine's facts, and the JSON file."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import redis

from orchestrator.embedded.redis_server import RedisServer, find_redis_server


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def wall_stats(walls: Sequence[float]) -> dict[str, Any]:
    """The median, spread and every value of repeated wall times, as result fields."""
    return {
        "runs": len(walls),
        "wall_s": median(walls),
        "wall_min_s": min(walls),
        "wall_max_s": max(walls),
        "wall_range_s": f"{min(walls):.2f}-{max(walls):.2f}",
        "walls_s": list(walls),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile, interpolating between ranks (numpy's default method)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Column:
    """One column: the row key it shows, its header, how to format a value, and, for a
    headline figure, which way is better. ``python -m benchmarks --check`` compares the
    figures whose column says so with a baseline's:
    ``Column("steps_per_s", "steps/s", fixed(0), better="higher")``."""

    key: str
    header: str
    fmt: Callable[[Any], str] = str
    left: bool = False
    better: Better | None = None


@dataclass
class Table:
    """A table of rows (dicts of figures), the columns that show them and notes under it.

    ``key`` names the row fields that tell one row from another: the inputs that vary
    (``("case", "workers")``, ``("steps", "concurrency")``), or ``()`` for a table of one
    row. ``--check`` pairs a row with the baseline's row, in the table of the same title,
    whose key fields are all equal. They are named rather than guessed from the values:
    rows carry strings that change every run (``wall_range_s``, ``meets_target``) and
    integers that are results (``max_running``), so a guess would pair nothing or the
    wrong rows. A table with a checked figure must name its key, and no checked figure
    can be part of it.
    """

    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    key: tuple[str, ...] | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        checked = self.checked()
        if checked and self.key is None:
            raise ValueError(
                f"table {self.title!r} checks {', '.join(checked)} but names no key: "
                "pass key=(the fields that tell its rows apart), or key=() for one row"
            )
        if both := sorted(set(checked) & set(self.key or ())):
            raise ValueError(f"table {self.title!r}: {', '.join(both)} is checked and in its key")

    def checked(self) -> dict[str, Better]:
        """The checked figures, each with the way that is better."""
        return {column.key: column.better for column in self.columns if column.better}

    def render(self) -> str:
        cells = [[col.header for col in self.columns]]
        cells += [[_cell(col, row) for col in self.columns] for row in self.rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(self.columns))]
        lines = [self.title]
        for index, line in enumerate(cells):
            padded = [
                text.ljust(width) if col.left else text.rjust(width)
                for text, width, col in zip(line, widths, self.columns, strict=True)
            ]
            lines.append("  ".join(padded).rstrip())
            if index == 0:
                lines.append("  ".join("-" * width for width in widths))
        lines += [f"  * {note}" for note in self.notes]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "rows": self.rows,
            "notes": self.notes,
            "checked": self.checked(),
            "key": None if self.key is None else list(self.key),
        }


def _cell(column: Column, row: dict[str, Any]) -> str:
    value = row.get(column.key)
    if value is None:
        return "-"
    return column.fmt(value)


def fixed(digits: int) -> Callable[[Any], str]:
    return lambda value: f"{value:,.{digits}f}"


def machine_cpu_seconds() -> float:
    """CPU seconds every process on the machine has used since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process and its reaped children (Redis, workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass
class Section:
    """What one benchmark reports: tables, the command that produced them, and how busy
    the machine was meanwhile (other processes' CPU makes every figure worse)."""

    name: str
    command: str
    tables: list[Table] = field(default_factory=list)
    seconds: float = 0.0
    own_cpu_cores: float = 0.0
    other_cpu_cores: float = 0.0
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tables"] = [table.as_json() for table in self.tables]
        return data


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_mib() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _git_commit(root: Path) -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + (" (with uncommitted changes)" if dirty else "")


def redis_server_version() -> str:
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        try:
            return str(client.info("server")["redis_version"])
        finally:
            client.close()


def machine_facts(root: Path) -> dict[str, Any]:
    """What the figures depend on: cores, CPU, memory, versions, commit, load."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "memory_mib": _memory_mib(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "celery": _package("celery"),
        "kombu": _package("kombu"),
        "redis_py": _package("redis"),
        "pydantic": _package("pydantic"),
        "redis_server": redis_server_version(),
        "redis_server_binary": find_redis_server(),
        "git_commit": _git_commit(root),
        "executable": sys.executable,
    }


def describe_machine(facts: dict[str, Any]) -> str:
    return (
        f"{facts['usable_cores']} usable cores of {facts['cores']} ({facts['cpu']}), "
        f"{facts['memory_mib']} MiB, load {facts['load_average_1m']}; {facts['python']}, "
        f"Celery {facts['celery']}, kombu {facts['kombu']}, redis-py {facts['redis_py']}, "
        f"redis-server {facts['redis_server']}; commit {facts['git_commit']}"
    )


def results(facts: dict[str, Any], sections: list[Section]) -> dict[str, Any]:
    """Everything a run measured, as its JSON file holds it."""
    return {"machine": facts, "benchmarks": {s.name: s.as_json() for s in sections}}


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
