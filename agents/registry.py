"""Finding agent types: modules named in settings, and the ``celeriac.agents`` entry points."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from importlib.metadata import entry_points
from types import ModuleType

from pydantic import BaseModel

from agents.base import Agent
from agents.errors import RegistryError

ENTRY_POINT_GROUP = "celeriac.agents"
RESERVED_NAMES = frozenset({"orchestrator"})
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")

Registry = dict[str, type[Agent]]


def check_agent_class(cls: type[Agent]) -> None:
    """Raise ``RegistryError`` naming what is wrong with an agent class."""
    where = f"{cls.__module__}.{cls.__qualname__}"
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in RESERVED_NAMES:
        raise RegistryError(
            f"agent {where}: name {name!r} must be lowercase letters, digits, '-' or '_', "
            f"start with a letter, and not be one of {sorted(RESERVED_NAMES)}"
        )
    if not isinstance(getattr(cls, "description", None), str) or not cls.description.strip():
        raise RegistryError(f"agent {where}: description must be a non-empty string")
    for attr in ("Input", "Output"):
        model = getattr(cls, attr, None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise RegistryError(f"agent {where}: {attr} must be a pydantic model class")
    if cls.run is Agent.run:
        raise RegistryError(f"agent {where}: it must implement run(self, input, context)")


def agents_in_module(module: ModuleType) -> list[type[Agent]]:
    """The concrete ``Agent`` subclasses defined (not merely imported) in ``module``."""
    found = []
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Agent)
            and value.__module__ == module.__name__
            and value.is_concrete()
        ):
            found.append(value)
    return found


def _add(registry: Registry, cls: type[Agent], origin: str) -> None:
    check_agent_class(cls)
    existing = registry.get(cls.name)
    if existing is not None and existing is not cls:
        raise RegistryError(
            f"agent name {cls.name!r} is defined twice: by {existing.__module__}."
            f"{existing.__qualname__} and by {cls.__module__}.{cls.__qualname__} ({origin})"
        )
    registry[cls.name] = cls


def _import(module_name: str, origin: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise RegistryError(f"{origin}: cannot import {module_name!r}: {exc}") from exc


def load_registry(modules: Iterable[str] = (), *, use_entry_points: bool = True) -> Registry:
    """Import agent modules and entry points; return agent classes by name.

    An entry point's value is either a module (every concrete agent in it is
    registered) or ``module:Class`` (that class alone).
    """
    registry: Registry = {}
    if use_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            origin = f"entry point {ep.name!r} of group {ENTRY_POINT_GROUP!r}"
            try:
                loaded = ep.load()
            except Exception as exc:
                raise RegistryError(f"{origin}: cannot load {ep.value!r}: {exc}") from exc
            if isinstance(loaded, ModuleType):
                classes = agents_in_module(loaded)
                if not classes:
                    raise RegistryError(f"{origin}: module {ep.value!r} defines no concrete Agent")
                for cls in classes:
                    _add(registry, cls, origin)
            elif isinstance(loaded, type) and issubclass(loaded, Agent):
                _add(registry, loaded, origin)
            else:
                raise RegistryError(f"{origin}: {ep.value!r} is neither a module nor an Agent")
    for module_name in modules:
        origin = "CELERIAC_AGENT_MODULES"
        module = _import(module_name, origin)
        classes = agents_in_module(module)
        if not classes:
            raise RegistryError(f"{origin}: module {module_name!r} defines no concrete Agent")
        for cls in classes:
            _add(registry, cls, origin)
    return registry
