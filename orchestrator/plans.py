"""Plan validation and ``{"$from": ...}`` references.

A plan is checked whole before anything runs; every error names the step and
the problem, e.g. ``step 'b': depends on unknown step 'x'``.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticSerializationError, to_json

from agents.base import Agent
from orchestrator.errors import PlanError
from orchestrator.models import Plan, Step

REF_KEY = "$from"
_REF_KEYS = frozenset({REF_KEY, "path"})
_SCALARS = (str, bytes, int, float, bool, type(None))
# Agent types by name; None marks a type that live workers serve but this
# process cannot import: its inputs and output paths are not checked here.
AgentTypes = Mapping[str, type[Agent] | None]


class ReferenceResolutionError(LookupError):
    """A ``$from`` reference names a path the upstream output does not have."""


def parse_ref(obj: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """``(step_id, path)`` if ``obj`` is a reference, else None. Malformed ones raise ValueError."""
    if REF_KEY not in obj:
        return None
    extra = set(obj) - _REF_KEYS
    if extra:
        raise ValueError(f"a reference may only have '$from' and 'path', not {sorted(extra)}")
    source, path = obj[REF_KEY], obj.get("path")
    if not isinstance(source, str) or not source:
        raise ValueError("'$from' must be a step id")
    if path is not None and (not isinstance(path, str) or not path):
        raise ValueError("'path' must be a non-empty dotted path such as 'hits.0.text'")
    return source, path


def iter_refs(value: Any) -> Iterator[tuple[str, str | None]]:
    """Every reference anywhere inside ``value``."""
    if isinstance(value, dict):
        ref = parse_ref(value)
        if ref is not None:
            yield ref
            return
        for item in value.values():
            yield from iter_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_refs(item)


def dependencies(step: Step) -> set[str]:
    """Explicit ``depends_on`` plus every step a reference names."""
    return set(step.depends_on) | {source for source, _ in iter_refs(step.input)}


def lookup(value: Any, path: str | None) -> Any:
    """The part of ``value`` at a dotted ``path`` (keys of objects, indexes of lists)."""
    if path is None:
        return value
    current = value
    for segment in path.split("."):
        if isinstance(current, dict) and segment in current:
            current = current[segment]
        elif isinstance(current, list) and segment.lstrip("-").isdigit():
            index = int(segment)
            if not -len(current) <= index < len(current):
                raise ReferenceResolutionError(
                    f"index {index} is out of range (the list has {len(current)} items)"
                )
            current = current[index]
        else:
            raise ReferenceResolutionError(f"no {segment!r} in {type(current).__name__} value")
    return current


def resolve(value: Any, outputs: Mapping[str, Any]) -> Any:
    """``value`` with every reference replaced by the upstream output it names."""
    if isinstance(value, dict):
        ref = parse_ref(value)
        if ref is None:
            return {key: resolve(item, outputs) for key, item in value.items()}
        source, path = ref
        try:
            return lookup(outputs[source], path)
        except ReferenceResolutionError as exc:
            raise ReferenceResolutionError(
                f"reference to step {source!r} path {path!r}: {exc}"
            ) from exc
    if isinstance(value, list):
        return [resolve(item, outputs) for item in value]
    return value


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        return options[0] if len(options) == 1 else Any
    return annotation


def check_output_path(model: type[BaseModel], path: str) -> str | None:
    """Why ``path`` cannot exist in ``model``'s instances, or None if it can.

    Checks what the model declares: field names, list indexes, and that
    nothing is looked up inside a string or a number. Parts typed as ``dict``
    or ``Any`` are not checked further.
    """
    annotation: Any = model
    walked: list[str] = []
    for segment in path.split("."):
        annotation = _unwrap_optional(annotation)
        origin = get_origin(annotation)
        if annotation in _SCALARS:
            kind = "null" if annotation is type(None) else annotation.__name__
            return f"{'.'.join(walked)} is a {kind}: it has no {segment!r}"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(segment)
            if field is None:
                where = ".".join(walked) or "the output"
                fields = ", ".join(annotation.model_fields) or "none"
                return f"{where} has no field {segment!r} (fields: {fields})"
            annotation = field.annotation
        elif origin in (list, tuple) or annotation in (list, tuple):
            if not segment.lstrip("-").isdigit():
                return f"{'.'.join(walked)} is a list: {segment!r} is not an index"
            args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
            annotation = args[0] if args else Any
        else:
            return None
        walked.append(segment)
    return None


# pydantic's wording where it names our internals ("instance of Step") or a regex; an
# agent's own validators' messages lose the "Value error, " pydantic puts before them.
_MESSAGES = {
    "model_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON list",
    "extra_forbidden": "unknown field",
}
_STEP_ID_RULE = "must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"


def format_errors(errors: list[ErrorDetails], raw: Any = None) -> str:
    """pydantic's errors as one line: "field: problem; ..." (steps named by their ids
    when ``raw`` is the plan they come from)."""
    problems = []
    for error in errors[:5]:
        loc = list(error["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
            index = loc[1]
            step_id = None
            if isinstance(raw, dict) and isinstance(raw.get("steps"), list):
                steps = raw["steps"]
                if index < len(steps) and isinstance(steps[index], dict):
                    step_id = steps[index].get("id")
            where = f"step {step_id!r}: " if isinstance(step_id, str) else f"step #{index + 1}: "
            loc = loc[2:]
        message = _MESSAGES.get(error["type"], error["msg"].removeprefix("Value error, "))
        if where and loc == ["id"] and error["type"] == "string_pattern_mismatch":
            message = _STEP_ID_RULE
        field = ".".join(str(part) for part in loc)
        problems.append(f"{where}{field + ': ' if field else ''}{message}")
    more = len(errors) - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def _find_cycle(plan: Plan, deps: Mapping[str, set[str]]) -> list[str] | None:
    """A cycle as step ids, each depending on the next, or None.

    Depth-first without recursion: a chain of a thousand steps is a valid plan.
    """
    done: set[str] = set()
    for step in plan.steps:
        if step.id in done:
            continue
        path = [step.id]
        parents = [iter(sorted(deps[step.id]))]
        while parents:
            parent = next(parents[-1], None)
            if parent is None:
                done.add(path.pop())
                parents.pop()
            elif parent in path:
                return [*path[path.index(parent) :], parent]
            elif parent not in done:
                path.append(parent)
                parents.append(iter(sorted(deps[parent])))
    return None


def _check_input(step: Step, agent: type[Agent]) -> None:
    """Validate the static part of a step's input: fields that hold no reference."""
    if parse_ref(step.input) is not None:
        return  # the whole input is an upstream output
    dynamic = {key for key, value in step.input.items() if next(iter_refs(value), None)}
    static = {key: None if key in dynamic else value for key, value in step.input.items()}
    try:
        agent.Input.model_validate(static)
    except ValidationError as exc:
        errors = [
            error
            for error in exc.errors()
            if not dynamic or (error["loc"] and error["loc"][0] not in dynamic)
        ]
        if errors:
            raise PlanError(
                f"step {step.id!r}: input is invalid for agent {step.agent!r}: "
                + format_errors(errors, None),
                step_id=step.id,
            ) from exc


def _check_step(step: Step, ids: set[str], registry: AgentTypes | None) -> None:
    if registry is not None and step.agent not in registry:
        known = ", ".join(sorted(registry)) or "none are registered"
        raise PlanError(
            f"step {step.id!r}: unknown agent {step.agent!r} (known: {known})", step_id=step.id
        )
    for dep in step.depends_on:
        if dep == step.id:
            raise PlanError(f"step {step.id!r}: depends on itself", step_id=step.id)
        if dep not in ids:
            raise PlanError(f"step {step.id!r}: depends on unknown step {dep!r}", step_id=step.id)
    try:
        refs = list(iter_refs(step.input))
    except ValueError as exc:
        raise PlanError(f"step {step.id!r}: bad reference: {exc}", step_id=step.id) from exc
    for source, _path in refs:
        if source == step.id:
            raise PlanError(f"step {step.id!r}: input refers to its own output", step_id=step.id)
        if source not in ids:
            raise PlanError(
                f"step {step.id!r}: input refers to unknown step {source!r}", step_id=step.id
            )
    agent = registry.get(step.agent) if registry is not None else None
    if agent is not None:
        _check_input(step, agent)


def _check_ref_paths(plan: Plan, registry: AgentTypes) -> None:
    agents = {step.id: registry[step.agent] for step in plan.steps}
    for step in plan.steps:
        for source, path in iter_refs(step.input):
            source_agent = agents[source]
            if path is None or source_agent is None:
                continue
            problem = check_output_path(source_agent.Output, path)
            if problem:
                raise PlanError(
                    f"step {step.id!r}: reference to step {source!r} path {path!r}: {problem}",
                    step_id=step.id,
                )


def validate_plan(
    plan: Plan | Mapping[str, Any],
    registry: AgentTypes | None,
    *,
    max_steps: int = 1000,
) -> Plan:
    """Check a plan whole; return it as a ``Plan`` or raise ``PlanError``.

    With ``registry`` None, agent types and inputs are not checked (the
    orchestrator checks them again before the job starts); a name mapped to
    None is a known type whose input is not checked here.
    """
    if not isinstance(plan, Plan):
        if not isinstance(plan, Mapping):
            raise PlanError(f"a plan must be a JSON object, not {_json_type(plan)}")
        try:
            plan = Plan.model_validate(plan)
        except ValidationError as exc:
            raise PlanError("invalid plan: " + format_errors(exc.errors(), plan)) from exc
    if len(plan.steps) > max_steps:
        raise PlanError(f"the plan has {len(plan.steps)} steps; at most {max_steps} are allowed")
    ids: set[str] = set()
    for step in plan.steps:
        if step.id in ids:
            raise PlanError(f"step {step.id!r}: id is used twice", step_id=step.id)
        ids.add(step.id)
    for step in plan.steps:
        _check_step(step, ids, registry)
    deps = {step.id: dependencies(step) for step in plan.steps}
    cycle = _find_cycle(plan, deps)
    if cycle:
        raise PlanError(
            f"step {cycle[0]!r}: the plan has a cycle: {' -> '.join(cycle)} "
            "('->' means 'depends on')",
            step_id=cycle[0],
        )
    if registry is not None:
        _check_ref_paths(plan, registry)
    if plan.answer_from is not None and plan.answer_from not in ids:
        raise PlanError(f"answer_from names unknown step {plan.answer_from!r}")
    return plan


def check_plan_size(plan: object, *, max_bytes: int) -> None:
    """Refuse a plan given in code whose JSON is over ``max_bytes``, or that is not JSON.

    A plan file is bounded as it is read (``load_plan_file``); this bounds the others.
    """
    try:
        size = len(to_json(plan))
    except PydanticSerializationError as exc:
        raise PlanError(f"the plan is not JSON: {exc}") from None
    if size > max_bytes:
        raise PlanError(
            f"the plan is {size} bytes as JSON, over the limit of {max_bytes} bytes "
            "(CELERIAC_MAX_PLAN_BYTES): put long texts in documents (celeriac index) and "
            "search them"
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def load_plan_file(path: Path, *, max_bytes: int) -> dict[str, Any]:
    """Read a plan file as JSON, refusing oversized or non-JSON files with a clear message.

    Reads at most ``max_bytes`` + 1 bytes, so a pipe or a growing file is bounded too.
    """
    where = f"plan file {str(path)!r}"
    try:
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as exc:
        raise PlanError(f"cannot read {where}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise PlanError(f"{where} is over the limit of {max_bytes} bytes (CELERIAC_MAX_PLAN_BYTES)")
    try:
        raw = json.loads(data.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise PlanError(f"{where} is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ValueError as exc:
        raise PlanError(f"{where} is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise PlanError(f"{where} is nested too deeply") from exc
    if not isinstance(raw, dict):
        raise PlanError(f"{where} must hold a JSON object with 'steps', not {_json_type(raw)}")
    return raw


def _json_type(value: Any) -> str:
    """What ``value`` is, in JSON's words: ``a list``, ``a string``, ..."""
    names = {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    if value is None:
        return "null"
    return "a " + names.get(type(value), type(value).__name__)
