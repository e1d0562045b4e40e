"""Plan validation, plan files and references, without Redis."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from agents.base import Agent
from agents.registry import Registry, load_registry
from orchestrator.errors import PlanError
from orchestrator.models import Plan
from orchestrator.plans import (
    ReferenceResolutionError,
    check_output_path,
    dependencies,
    load_plan_file,
    resolve,
    validate_plan,
)
from tests.support.sample_agents import Text

REGISTRY: Registry = load_registry(["tests.support.sample_agents"], use_entry_points=False)


def echo(step_id: str, text: Any = "hi", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "agent": "echo", "input": {"text": text}, **extra}


def ref(step_id: str, path: str | None = None) -> dict[str, Any]:
    return {"$from": step_id} if path is None else {"$from": step_id, "path": path}


def invalid(plan: Any, registry: Any = REGISTRY, **kwargs: Any) -> PlanError:
    with pytest.raises(PlanError) as caught:
        validate_plan(plan, registry, **kwargs)
    return caught.value


class Hit(BaseModel):
    text: str
    score: float


class Hits(BaseModel):
    hits: list[Hit]
    note: str | None = None
    extra: dict[str, Any] = {}


class Search(Agent):
    name = "search"
    description = "Finds hits."
    Input = Text
    Output = Hits

    def run(self, input: Text, context: Any) -> Hits:
        raise NotImplementedError


# --- valid plans ---------------------------------------------------------------------------


def test_a_valid_diamond_passes_and_references_imply_dependencies() -> None:
    plan = validate_plan(
        {
            "steps": [
                echo("a"),
                echo("b", ref("a", "text")),
                echo("c", "x", depends_on=["a"]),
                {"id": "d", "agent": "concat", "input": {"parts": [ref("b", "text"), "and"]}},
            ],
            "answer_from": "d",
        },
        REGISTRY,
    )
    assert isinstance(plan, Plan)
    assert [dependencies(step) for step in plan.steps] == [set(), {"a"}, {"a"}, {"b"}]


def test_a_plan_model_is_validated_too() -> None:
    plan = Plan.model_validate({"steps": [echo("a", 5)]})
    assert "step 'a': input is invalid for agent 'echo'" in str(invalid(plan))


def test_without_a_registry_agents_and_inputs_are_not_checked() -> None:
    plan = validate_plan({"steps": [{"id": "a", "agent": "elsewhere", "input": {"x": 1}}]}, None)
    assert plan.steps[0].agent == "elsewhere"


def test_an_agent_only_live_workers_serve_is_known_but_not_checked() -> None:
    # The client maps types served by remote workers, which it cannot import, to None.
    registry = {**REGISTRY, "remote": None}
    plan = validate_plan(
        {
            "steps": [
                {"id": "r", "agent": "remote", "input": {"anything": ref("a", "text")}},
                echo("a"),
                echo("b", ref("r", "any.path.at.all")),
            ]
        },
        registry,
    )
    assert [step.agent for step in plan.steps] == ["remote", "echo", "echo"]


def test_a_long_chain_in_reverse_order_is_no_problem() -> None:
    steps = [echo("s0")] + [echo(f"s{i}", ref(f"s{i - 1}", "text")) for i in range(1, 1000)]
    plan = validate_plan({"steps": steps[::-1]}, REGISTRY)
    assert len(plan.steps) == 1000


def test_a_whole_input_may_be_an_upstream_output() -> None:
    validate_plan({"steps": [echo("a"), {"id": "b", "agent": "echo", "input": ref("a")}]}, REGISTRY)


# --- agents and inputs ---------------------------------------------------------------------


def test_unknown_agent_names_the_step_and_the_known_agents() -> None:
    error = invalid({"steps": [echo("a"), {"id": "b", "agent": "nosuch", "input": {}}]})
    assert str(error) == (
        "step 'b': unknown agent 'nosuch' "
        "(known: barrier, chatty, concat, echo, fail, gate, milestone, patient, poison, refund, "
        "sleep, streamer)"
    )
    assert error.step_id == "b"


def test_unknown_agent_with_nothing_registered() -> None:
    error = invalid({"steps": [echo("a")]}, {})
    assert str(error) == "step 'a': unknown agent 'echo' (known: none are registered)"


def test_input_that_fails_the_agents_model() -> None:
    error = invalid({"steps": [echo("a", 5)]})
    assert (
        str(error)
        == "step 'a': input is invalid for agent 'echo': text: Input should be a valid string"
    )
    assert error.step_id == "a"


def test_input_missing_a_required_field() -> None:
    error = invalid({"steps": [{"id": "g", "agent": "gate", "input": {}}]})
    assert str(error) == "step 'g': input is invalid for agent 'gate': gate: Field required"


def test_static_fields_are_checked_even_when_others_hold_references() -> None:
    plan = {
        "steps": [
            echo("a"),
            {"id": "g", "agent": "gate", "input": {"gate": ref("a", "text"), "timeout": "soon"}},
        ]
    }
    error = invalid(plan)
    assert str(error) == (
        "step 'g': input is invalid for agent 'gate': "
        "timeout: Input should be a valid number, unable to parse string as a number"
    )


def test_a_missing_field_is_reported_next_to_a_reference() -> None:
    plan = {
        "steps": [
            echo("a"),
            {"id": "b", "agent": "barrier", "input": {"name": ref("a", "text")}},
        ]
    }
    assert str(invalid(plan)) == (
        "step 'b': input is invalid for agent 'barrier': parties: Field required"
    )


def test_fields_that_hold_references_are_left_to_run_time() -> None:
    plan = {
        "steps": [
            echo("a"),
            {"id": "b", "agent": "concat", "input": {"parts": [ref("a", "text"), "!"]}},
            {"id": "c", "agent": "concat", "input": {"parts": ref("b")}},
        ]
    }
    validate_plan(plan, REGISTRY)


# --- dependencies and references -----------------------------------------------------------


def test_depends_on_an_unknown_step() -> None:
    error = invalid({"steps": [echo("a"), echo("b", depends_on=["a", "x"])]})
    assert str(error) == "step 'b': depends on unknown step 'x'"
    assert error.step_id == "b"


def test_depends_on_itself() -> None:
    error = invalid({"steps": [echo("a", depends_on=["a"])]})
    assert str(error) == "step 'a': depends on itself"


def test_a_reference_to_itself() -> None:
    error = invalid({"steps": [echo("a", ref("a", "text"))]})
    assert str(error) == "step 'a': input refers to its own output"


def test_a_reference_to_a_missing_step() -> None:
    error = invalid({"steps": [echo("a"), echo("b", ref("nope", "text"))]})
    assert str(error) == "step 'b': input refers to unknown step 'nope'"
    assert error.step_id == "b"


def test_a_reference_deep_inside_an_input_is_found() -> None:
    plan = {
        "steps": [
            echo("a"),
            {"id": "b", "agent": "concat", "input": {"parts": ["x", ref("ghost")]}},
        ]
    }
    assert str(invalid(plan)) == "step 'b': input refers to unknown step 'ghost'"


def test_a_reference_to_a_path_the_output_does_not_have() -> None:
    error = invalid({"steps": [echo("a"), echo("b", ref("a", "nope"))]})
    assert str(error) == (
        "step 'b': reference to step 'a' path 'nope': the output has no field 'nope' (fields: text)"
    )
    assert error.step_id == "b"


def test_a_reference_into_a_string() -> None:
    error = invalid({"steps": [echo("a"), echo("b", ref("a", "text.0"))]})
    assert (
        str(error) == "step 'b': reference to step 'a' path 'text.0': text is a str: it has no '0'"
    )


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        (
            {"$from": "a", "path": "text", "default": "x"},
            "a reference may only have '$from' and 'path', not ['default']",
        ),
        ({"$from": 3}, "'$from' must be a step id"),
        ({"$from": ""}, "'$from' must be a step id"),
        (
            {"$from": "a", "path": ""},
            "'path' must be a non-empty dotted path such as 'hits.0.text'",
        ),
        ({"$from": "a", "path": 7}, "'path' must be a non-empty dotted path such as 'hits.0.text'"),
    ],
)
def test_malformed_references(reference: dict[str, Any], problem: str) -> None:
    error = invalid({"steps": [echo("a"), echo("b", reference)]})
    assert str(error) == f"step 'b': bad reference: {problem}"
    assert error.step_id == "b"


def test_a_cycle_names_its_steps_in_order() -> None:
    plan = {
        "steps": [
            echo("a", depends_on=["c"]),
            echo("b", ref("a", "text")),
            echo("c", depends_on=["b"]),
            echo("d"),
        ]
    }
    error = invalid(plan)
    assert str(error) == (
        "step 'a': the plan has a cycle: a -> c -> b -> a ('->' means 'depends on')"
    )
    assert error.step_id == "a"


def test_a_cycle_of_two_through_references() -> None:
    error = invalid({"steps": [echo("x", ref("y", "text")), echo("y", ref("x", "text"))]})
    assert "the plan has a cycle: x -> y -> x" in str(error)


def test_a_cycle_behind_a_long_chain_is_found() -> None:
    steps = [echo("s0", depends_on=["s999"])]
    steps += [echo(f"s{i}", depends_on=[f"s{i - 1}"]) for i in range(1, 1000)]
    assert "the plan has a cycle: s0 -> s999 -> s998" in str(invalid({"steps": steps}))


# --- the plan as a whole -------------------------------------------------------------------


def test_duplicate_ids() -> None:
    error = invalid({"steps": [echo("a"), echo("b"), echo("a")]})
    assert str(error) == "step 'a': id is used twice"
    assert error.step_id == "a"


def test_answer_from_an_unknown_step() -> None:
    error = invalid({"steps": [echo("a")], "answer_from": "z"})
    assert str(error) == "answer_from names unknown step 'z'"


def test_too_many_steps() -> None:
    error = invalid({"steps": [echo(f"s{i}") for i in range(4)]}, max_steps=3)
    assert str(error) == "the plan has 4 steps; at most 3 are allowed"


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([echo("a")], "a plan must be a JSON object, not a list"),
        ("steps", "a plan must be a JSON object, not a string"),
        (None, "a plan must be a JSON object, not null"),
    ],
)
def test_a_plan_that_is_not_an_object(plan: Any, message: str) -> None:
    assert str(invalid(plan)) == message


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({}, "invalid plan: steps: Field required"),
        ({"steps": []}, "invalid plan: steps: List should have at least 1 item after validation"),
        ({"steps": {"a": 1}}, "invalid plan: steps: must be a JSON list"),
        ({"steps": [echo("a")], "goal": "x"}, "invalid plan: goal: unknown field"),
        ({"steps": [echo("a"), 7]}, "invalid plan: step #2: must be a JSON object"),
        ({"steps": [{"agent": "echo"}]}, "invalid plan: step #1: id: Field required"),
        ({"steps": [echo("a", colour="red")]}, "invalid plan: step 'a': colour: unknown field"),
        (
            {"steps": [{"id": "a", "agent": "echo", "input": ["hi"]}]},
            "invalid plan: step 'a': input: must be a JSON object",
        ),
        (
            {"steps": [echo("a", depends_on="b")]},
            "invalid plan: step 'a': depends_on: must be a JSON list",
        ),
        (
            {"steps": [echo("a b")]},
            "invalid plan: step 'a b': id: must be 1 to 64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
        ),
    ],
)
def test_plans_of_the_wrong_shape(plan: Any, message: str) -> None:
    assert str(invalid(plan)).startswith(message)


def test_many_shape_errors_are_summarized() -> None:
    steps = [{"id": f"s{i}", "agent": "echo", "input": 1} for i in range(7)]
    message = str(invalid({"steps": steps}))
    assert message.count("input: must be a JSON object") == 5
    assert message.endswith("(and 2 more)")


# --- references at run time ----------------------------------------------------------------


def test_resolve_replaces_references_anywhere() -> None:
    outputs = {"a": {"hits": [{"text": "one"}, {"text": "two"}]}, "b": {"text": "x"}}
    value = {
        "first": ref("a", "hits.0.text"),
        "last": ref("a", "hits.-1"),
        "all": ref("b"),
        "list": [ref("b", "text"), 3],
    }
    assert resolve(value, outputs) == {
        "first": "one",
        "last": {"text": "two"},
        "all": {"text": "x"},
        "list": ["x", 3],
    }


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("hits.5", "index 5 is out of range (the list has 2 items)"),
        ("hits.x", "no 'x' in list value"),
        ("nope", "no 'nope' in dict value"),
    ],
)
def test_resolve_names_the_missing_part(path: str, problem: str) -> None:
    outputs = {"a": {"hits": [1, 2]}}
    with pytest.raises(ReferenceResolutionError) as caught:
        resolve({"q": ref("a", path)}, outputs)
    assert str(caught.value) == f"reference to step 'a' path {path!r}: {problem}"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("hits", None),
        ("hits.0.text", None),
        ("hits.-1.score", None),
        ("note", None),
        ("extra.anything.goes", None),
        ("nope", "the output has no field 'nope' (fields: hits, note, extra)"),
        ("hits.first", "hits is a list: 'first' is not an index"),
        ("hits.0.title", "hits.0 has no field 'title' (fields: text, score)"),
        ("hits.0.score.x", "hits.0.score is a float: it has no 'x'"),
        ("note.x", "note is a str: it has no 'x'"),
    ],
)
def test_check_output_path(path: str, problem: str | None) -> None:
    assert check_output_path(Search.Output, path) == problem


# --- plan files ----------------------------------------------------------------------------


def write(tmp_path: Path, content: str | bytes, name: str = "plan.json") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def unreadable(path: Path, **kwargs: Any) -> str:
    with pytest.raises(PlanError) as caught:
        load_plan_file(path, max_bytes=kwargs.get("max_bytes", 10_000))
    return str(caught.value)


def test_a_plan_file_loads(tmp_path: Path) -> None:
    plan = {"steps": [echo("a")]}
    assert load_plan_file(write(tmp_path, json.dumps(plan)), max_bytes=10_000) == plan


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, b'\xef\xbb\xbf{"steps": []}')
    assert load_plan_file(path, max_bytes=100) == {"steps": []}


def test_a_non_json_file_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '{"steps": [\n  {"id": "a",}\n]}')
    assert unreadable(path) == (
        f"plan file {str(path)!r} is not valid JSON: "
        "Expecting property name enclosed in double quotes at line 2 column 14"
    )


def test_an_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert unreadable(path) == (
        f"plan file {str(path)!r} is not valid JSON: Expecting value at line 1 column 1"
    )


def test_nan_is_not_json(tmp_path: Path) -> None:
    path = write(tmp_path, '{"steps": [{"id": "a", "agent": "echo", "input": {"x": NaN}}]}')
    assert unreadable(path) == f"plan file {str(path)!r} is not valid JSON: NaN is not a JSON value"


def test_deep_nesting_is_refused_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path, '{"steps": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert unreadable(path, max_bytes=1_000_000) == f"plan file {str(path)!r} is nested too deeply"


@pytest.mark.parametrize(
    ("content", "what"),
    [("[]", "a list"), ('"plan"', "a string"), ("3", "a number"), ("null", "null")],
)
def test_a_file_that_holds_no_object(tmp_path: Path, content: str, what: str) -> None:
    path = write(tmp_path, content)
    assert (
        unreadable(path)
        == f"plan file {str(path)!r} must hold a JSON object with 'steps', not {what}"
    )


def test_an_oversized_file(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"steps": [echo("a", "x" * 200)]}))
    assert unreadable(path, max_bytes=100) == (
        f"plan file {str(path)!r} is over the limit of 100 bytes (CELERIAC_MAX_PLAN_BYTES)"
    )


def test_a_file_exactly_at_the_limit_is_fine(tmp_path: Path) -> None:
    content = json.dumps({"steps": [echo("a")]})
    path = write(tmp_path, content)
    assert load_plan_file(path, max_bytes=len(content)) == {"steps": [echo("a")]}


def test_a_non_utf8_file(tmp_path: Path) -> None:
    path = write(tmp_path, '{"steps": [{"id": "café"}]}'.encode("latin-1"))
    assert unreadable(path) == (
        f"plan file {str(path)!r} is not UTF-8 text: invalid continuation byte at byte 22"
    )


def test_a_utf16_file_is_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, '{"steps": []}'.encode("utf-16"))
    assert re.fullmatch(
        rf"plan file {re.escape(repr(str(path)))} is not UTF-8 text: .* at byte 0", unreadable(path)
    )


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    assert unreadable(path) == f"cannot read plan file {str(path)!r}: No such file or directory"


def test_a_directory(tmp_path: Path) -> None:
    assert unreadable(tmp_path) == f"cannot read plan file {str(tmp_path)!r}: Is a directory"
