"""Finding agent types: modules named in settings and ``celeriac.agents`` entry points."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest

from agents.errors import RegistryError
from agents.registry import ENTRY_POINT_GROUP, load_registry
from tests.support import sample_agents

SAMPLE_NAMES = {
    "barrier",
    "chatty",
    "concat",
    "echo",
    "fail",
    "gate",
    "milestone",
    "patient",
    "poison",
    "refund",
    "sleep",
    "streamer",
}

HEADER = """\
from pydantic import BaseModel
from agents import Agent, StepContext


class Text(BaseModel):
    text: str
"""


def agent_source(class_name: str, name: str, **attrs: str) -> str:
    """Source of an agent class; ``attrs`` replace its class attribute lines."""
    body = {
        "name": repr(name),
        "description": repr(f"The {name} agent."),
        "Input": "Text",
        "Output": "Text",
        **attrs,
    }
    lines = "".join(f"    {key} = {value}\n" for key, value in body.items())
    return (
        f"\n\nclass {class_name}(Agent):\n{lines}\n"
        "    def run(self, input: Text, context: StepContext) -> Text:\n"
        "        return input\n"
    )


@pytest.fixture
def make_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Write a module with the given source; return its (unique) importable name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made: list[str] = []

    def make(source: str) -> str:
        name = f"celeriac_test_agents_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        made.append(name)
        return name

    yield make
    for name in made:
        sys.modules.pop(name, None)


@dataclass
class FakeEntryPoint:
    """What ``importlib.metadata.entry_points`` yields: a name, a value and ``load()``."""

    name: str
    value: str

    def load(self) -> Any:
        module_name, _, attr = self.value.partition(":")
        module = import_module(module_name)
        return getattr(module, attr) if attr else module


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Pretend these entry points are installed (and no others)."""

    def install(*points: Any) -> None:
        def fake_entry_points(*, group: str) -> list[Any]:
            assert group == ENTRY_POINT_GROUP
            return list(points)

        monkeypatch.setattr("agents.registry.entry_points", fake_entry_points)

    install()
    return install


def broken(modules: list[str], *, use_entry_points: bool = True) -> str:
    with pytest.raises(RegistryError) as caught:
        load_registry(modules, use_entry_points=use_entry_points)
    return str(caught.value)


# --- modules named in CELERIAC_AGENT_MODULES -----------------------------------------------


def test_loads_every_agent_of_a_module(installed: Callable[..., None]) -> None:
    registry = load_registry(["tests.support.sample_agents"])
    assert set(registry) == SAMPLE_NAMES
    assert registry["echo"] is sample_agents.Echo
    assert registry["gate"] is sample_agents.Gate


def test_nothing_named_nothing_found(installed: Callable[..., None]) -> None:
    assert load_registry([]) == {}


def test_a_module_named_twice_is_loaded_once(installed: Callable[..., None]) -> None:
    registry = load_registry(["tests.support.sample_agents", "tests.support.sample_agents"])
    assert set(registry) == SAMPLE_NAMES


def test_only_concrete_agents_defined_in_the_module_count(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module(
        HEADER
        + "from tests.support.sample_agents import Echo  # imported: not this module's\n"
        + "\n\nclass Base(Agent):  # no run: a base class, not an agent\n"
        + "    description = 'shared'\n"
        + agent_source("Shout", "shout")
        + "\n\nAlias = Shout\n"
    )
    registry = load_registry([module])
    assert list(registry) == ["shout"]
    assert registry["shout"].__module__ == module


def test_a_module_with_no_agents(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module("from tests.support.sample_agents import Echo\n\nVALUE = 1\n")
    assert broken([module]) == (
        f"CELERIAC_AGENT_MODULES: module {module!r} defines no concrete Agent"
    )


def test_a_module_that_does_not_exist(installed: Callable[..., None]) -> None:
    assert broken(["tests.no_such_agents"]) == (
        "CELERIAC_AGENT_MODULES: cannot import 'tests.no_such_agents': "
        "No module named 'tests.no_such_agents'"
    )


def test_a_module_that_fails_on_import(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module("raise RuntimeError('no API key configured')\n")
    assert broken([module]) == (
        f"CELERIAC_AGENT_MODULES: cannot import {module!r}: no API key configured"
    )


def test_a_module_with_a_syntax_error(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module("class Broken(:\n")
    message = broken([module])
    assert message.startswith(f"CELERIAC_AGENT_MODULES: cannot import {module!r}: ")
    assert "invalid syntax" in message


@pytest.mark.parametrize(
    "name",
    ["Echo", "my agent", "1st", "", "x" * 64, "orchestrator", "shout\n", "naïve"],
)
def test_a_bad_agent_name(
    name: str, installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module(HEADER + agent_source("Shout", name))
    assert broken([module]) == (
        f"agent {module}.Shout: name {name!r} must be lowercase letters, digits, '-' or '_', "
        "start with a letter, and not be one of ['orchestrator']"
    )


def test_a_good_agent_name_of_every_kind(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    name = "a" + "-_0" * 20 + "z"
    module = make_module(HEADER + agent_source("Long", name))
    assert list(load_registry([module])) == [name]


@pytest.mark.parametrize(
    ("attrs", "problem"),
    [
        ({"description": "'   '"}, "description must be a non-empty string"),
        ({"description": "None"}, "description must be a non-empty string"),
        ({"Input": "dict"}, "Input must be a pydantic model class"),
        ({"Output": "Text(text='x')"}, "Output must be a pydantic model class"),
    ],
)
def test_an_agent_class_missing_a_part(
    attrs: dict[str, str],
    problem: str,
    installed: Callable[..., None],
    make_module: Callable[[str], str],
) -> None:
    module = make_module(HEADER + agent_source("Shout", "shout", **attrs))
    assert broken([module]) == f"agent {module}.Shout: {problem}"


def test_two_classes_with_the_same_name(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module(HEADER + agent_source("Shout", "shout") + agent_source("Yell", "shout"))
    assert broken([module]) == (
        f"agent name 'shout' is defined twice: by {module}.Shout and by {module}.Yell "
        "(CELERIAC_AGENT_MODULES)"
    )


def test_a_name_taken_in_another_module(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module(HEADER + agent_source("MyEcho", "echo"))
    assert broken(["tests.support.sample_agents", module]) == (
        "agent name 'echo' is defined twice: by tests.support.sample_agents.Echo and by "
        f"{module}.MyEcho "
        "(CELERIAC_AGENT_MODULES)"
    )


# --- entry points --------------------------------------------------------------------------


def test_an_entry_point_to_a_module(installed: Callable[..., None]) -> None:
    installed(FakeEntryPoint("samples", "tests.support.sample_agents"))
    registry = load_registry()
    assert set(registry) == SAMPLE_NAMES
    assert registry["concat"] is sample_agents.Concat


def test_an_entry_point_to_a_class(installed: Callable[..., None]) -> None:
    installed(FakeEntryPoint("echo", "tests.support.sample_agents:Echo"))
    assert load_registry() == {"echo": sample_agents.Echo}


def test_entry_points_and_modules_together(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module(HEADER + agent_source("Shout", "shout"))
    installed(FakeEntryPoint("echo", "tests.support.sample_agents:Echo"))
    assert set(load_registry([module])) == {"echo", "shout"}


def test_entry_points_can_be_left_out(installed: Callable[..., None]) -> None:
    installed(FakeEntryPoint("echo", "tests.support.sample_agents:Echo"))
    assert load_registry(use_entry_points=False) == {}


def test_an_entry_point_and_a_module_that_agree(installed: Callable[..., None]) -> None:
    installed(FakeEntryPoint("echo", "tests.support.sample_agents:Echo"))
    assert set(load_registry(["tests.support.sample_agents"])) == SAMPLE_NAMES


def test_an_entry_point_that_cannot_load(installed: Callable[..., None]) -> None:
    installed(FakeEntryPoint("gone", "tests.support.sample_agents:Gone"))
    assert broken([]) == (
        f"entry point 'gone' of group {ENTRY_POINT_GROUP!r}: cannot load "
        "'tests.support.sample_agents:Gone': module 'tests.support.sample_agents' has no "
        "attribute 'Gone'"
    )


def test_an_entry_point_to_something_else(installed: Callable[..., None]) -> None:
    installed(FakeEntryPoint("record", "tests.support.sample_agents:record_run"))
    assert broken([]) == (
        f"entry point 'record' of group {ENTRY_POINT_GROUP!r}: "
        "'tests.support.sample_agents:record_run' is neither a module nor an Agent"
    )


def test_an_entry_point_to_a_module_with_no_agents(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module("VALUE = 1\n")
    installed(FakeEntryPoint("empty", module))
    assert broken([]) == (
        f"entry point 'empty' of group {ENTRY_POINT_GROUP!r}: "
        f"module {module!r} defines no concrete Agent"
    )


def test_an_entry_point_to_a_class_without_run(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module(
        HEADER + "\n\nclass Lazy(Agent):\n    name = 'lazy'\n    description = 'Does nothing.'\n"
        "    Input = Text\n    Output = Text\n"
    )
    installed(FakeEntryPoint("lazy", f"{module}:Lazy"))
    assert broken([]) == f"agent {module}.Lazy: it must implement run(self, input, context)"


def test_an_entry_point_to_a_class_with_a_bad_name(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module(HEADER + agent_source("Shout", "Shout!"))
    installed(FakeEntryPoint("shout", f"{module}:Shout"))
    assert broken([]).startswith(f"agent {module}.Shout: name 'Shout!' must be lowercase")


def test_an_entry_point_clashing_with_a_module(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module(HEADER + agent_source("MyEcho", "echo"))
    installed(FakeEntryPoint("theirs", f"{module}:MyEcho"))
    assert broken(["tests.support.sample_agents"]) == (
        f"agent name 'echo' is defined twice: by {module}.MyEcho and by "
        "tests.support.sample_agents.Echo (CELERIAC_AGENT_MODULES)"
    )


def test_two_entry_points_clashing(
    installed: Callable[..., None], make_module: Callable[[str], str]
) -> None:
    module = make_module(HEADER + agent_source("MyEcho", "echo"))
    installed(
        FakeEntryPoint("ours", "tests.support.sample_agents:Echo"),
        FakeEntryPoint("theirs", f"{module}:MyEcho"),
    )
    assert broken([]) == (
        "agent name 'echo' is defined twice: by tests.support.sample_agents.Echo and by "
        f"{module}.MyEcho "
        f"(entry point 'theirs' of group {ENTRY_POINT_GROUP!r})"
    )
