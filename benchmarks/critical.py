"""Critical path: DAGs of model-calling steps, against the sum of their model calls' latency.

Every step is one ``ask`` (tests/support/llm_agents.py) through the real openai SDK to
the OpenAI-compatible test server (tests/support/llm_server.py), which answers each
call after ``MODEL_SECONDS``. A shape is a list of level widths; each step of a
level depends on every step of the one before. The critical path is
depth x ``MODEL_SECONDS``; the target is a wall time (submit to result) within
10% + 50 ms of it.

The overhead is split along the critical path, replayed from the job's events
(Redis's clock): start = job_submitted to the first step's step_started; hops =
each step's step_started minus its latest dependency's step_succeeded; in-step =
each step's run minus ``MODEL_SECONDS``; finalize = the last step_succeeded to
job_finished; client = the rest of the wall time. The level start spread, first
to last step_started within a level, is how long a wide level takes to get going.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.deployment import MODEL_SETTINGS, Deployment, events, model_endpoint, timed
from benchmarks.report import Column, Table, fixed, median
from orchestrator.models import Event

MODEL_SECONDS = 0.2
FULL_REPEATS = 5
WORKER_COUNTS = (1, 2)


@dataclass(frozen=True)
class Shape:
    name: str
    widths: tuple[int, ...]  # steps per level

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def steps(self) -> int:
        return sum(self.widths)

    @property
    def critical_path(self) -> float:
        return self.depth * MODEL_SECONDS

    def levels(self) -> list[list[str]]:
        return [[f"l{level}s{i}" for i in range(width)] for level, width in enumerate(self.widths)]

    def plan(self) -> dict[str, Any]:
        """Level 0 asks a question; every later step asks its first parent's answer and
        waits for the other parents."""
        levels = self.levels()
        steps: list[dict[str, Any]] = [
            {"id": sid, "agent": "ask", "input": {"question": "go"}} for sid in levels[0]
        ]
        for parents, level in itertools.pairwise(levels):
            question = {"$from": parents[0], "path": "answer"}
            steps += [
                {
                    "id": sid,
                    "agent": "ask",
                    "input": {"question": question},
                    "depends_on": parents[1:],
                }
                for sid in level
            ]
        return {"steps": steps, "answer_from": levels[-1][-1]}


SHAPES = (
    Shape("chain", (1, 1, 1, 1, 1)),
    Shape("diamond", (1, 4, 1)),
    Shape("wide fan-out", (1, 20, 1)),
)


def overhead_split(shape: Shape, job_events: Sequence[Event], wall: float) -> dict[str, float]:
    """Seconds of overhead along the critical path, by where they went (see the module doc)."""
    started: dict[str, float] = {}
    succeeded: dict[str, float] = {}
    for event in job_events:
        if event.step_id is not None and event.type == "step_started":
            started[event.step_id] = event.at.timestamp()  # the last attempt's
        elif event.step_id is not None and event.type == "step_succeeded":
            succeeded[event.step_id] = event.at.timestamp()
    submitted = min(e.at.timestamp() for e in job_events if e.type == "job_submitted")
    finished = max(e.at.timestamp() for e in job_events if e.type == "job_finished")
    levels = shape.levels()
    step = max(levels[-1], key=succeeded.__getitem__)
    end, hops, in_step = succeeded[step], 0.0, 0.0
    for parents in reversed(levels[:-1]):
        in_step += succeeded[step] - started[step] - MODEL_SECONDS
        parent = max(parents, key=succeeded.__getitem__)
        hops += started[step] - succeeded[parent]
        step = parent
    in_step += succeeded[step] - started[step] - MODEL_SECONDS
    return {
        "start": started[step] - submitted,
        "hops": hops,
        "in_step": in_step,
        "finalize": finished - end,
        "client": wall - (finished - submitted),
        "spread": max(
            max(started[sid] for sid in level) - min(started[sid] for sid in level)
            for level in levels
        ),
    }


def measure(live: Deployment, shape: Shape, repeats: int) -> dict[str, Any]:
    plan = shape.plan()
    walls, splits = [], []
    for _ in range(repeats):
        wall, handle = timed(live, plan)
        walls.append(wall)
        splits.append(overhead_split(shape, events(handle), wall))
    wall = median(walls)
    cp = shape.critical_path
    overhead = wall - cp
    ms = 1000.0
    return {
        "shape": shape.name,
        "widths": "-".join(map(str, shape.widths)),
        "steps": shape.steps,
        "depth": shape.depth,
        "runs": repeats,
        "critical_path_s": cp,
        "wall_s": wall,
        "wall_range_s": f"{min(walls):.3f}-{max(walls):.3f}",
        "walls_s": walls,
        "overhead_ms": overhead * ms,
        "overhead_per_level_ms": overhead * ms / shape.depth,
        "target_s": 1.1 * cp + 0.05,
        "meets_target": "yes" if wall <= 1.1 * cp + 0.05 else "no",
        **{f"{part}_ms": median([s[part] for s in splits]) * ms for part in splits[0]},
    }


def run(quick: bool, repeats: int | None = None) -> list[Table]:
    repeats = repeats or (1 if quick else FULL_REPEATS)
    columns = [
        Column("shape", "shape", left=True),
        Column("widths", "steps per level", left=True),
        Column("workers", "worker procs"),
    ]
    table = Table(
        f"Critical path: every step one model call answered after {MODEL_SECONDS * 1000:.0f} ms "
        "(submit to result, median of runs)",
        [
            *columns,
            Column("depth", "depth"),
            Column("runs", "runs"),
            Column("critical_path_s", "critical path s", fixed(2)),
            Column("wall_s", "wall s", fixed(3)),
            Column("wall_range_s", "min-max s"),
            Column("overhead_ms", "overhead ms", fixed(1), better="lower"),
            Column("overhead_per_level_ms", "per level ms", fixed(1)),
            Column("target_s", "target s", fixed(3)),
            Column("meets_target", "meets"),
        ],
        key=tuple(column.key for column in columns),
    )
    split = Table(
        "Where the critical-path overhead goes (ms, medians over the runs)",
        [
            *columns,
            Column("overhead_ms", "overhead", fixed(1)),
            Column("start_ms", "start", fixed(1)),
            Column("hops_ms", "hops", fixed(1)),
            Column("in_step_ms", "in-step", fixed(1)),
            Column("finalize_ms", "finalize", fixed(1)),
            Column("client_ms", "client", fixed(1)),
            Column("spread_ms", "level start spread", fixed(1)),
        ],
    )
    with model_endpoint(MODEL_SECONDS):
        for workers in WORKER_COUNTS:
            with Deployment(workers=workers, **MODEL_SETTINGS) as live:
                timed(live, SHAPES[-1].plan())  # warm up: imports, the SDK's connections
                for shape in SHAPES:
                    table.rows.append({"workers": workers, **measure(live, shape, repeats)})
    split.rows = table.rows
    table.notes += [
        "critical path = depth x model latency; target: wall <= 1.1 x critical path + 50 ms; "
        "overhead = wall - critical path; per level = overhead / depth",
        "each step: `ask` (tests/support/llm_agents.py) through the openai SDK to "
        "tests/support/llm_server.py "
        "on 127.0.0.1; llm_cache off, scoring_judge off; worker defaults (threads, 256)",
    ]
    split.notes += [
        "along the critical path, from the job's events (Redis's clock): start = "
        "job_submitted to the first step_started; hops = sum of step_started minus the "
        "latest dependency's step_succeeded; in-step = sum of each step's run minus the "
        f"{MODEL_SECONDS * 1000:.0f} ms model delay; finalize = last step_succeeded to "
        "job_finished; client = the rest of the wall time",
        "level start spread (part of hops, not added): first to last step_started within "
        "the widest level, i.e. how long the workers took to start all of its steps",
    ]
    return [table, split]
