"""celeriac's control plane: plans, the engine, the store, the SDK and the CLI.

``from orchestrator import Client`` gives the SDK. The names load on first use, so
that importing a light module (``orchestrator.names``, ``orchestrator.models``) does
not import Celery and the openai SDK with the client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.client import Client, JobHandle
    from orchestrator.models import Event, JobResult, Plan, Step, StepResult
    from orchestrator.settings import Settings

_HOMES = {
    "Client": "orchestrator.client",
    "JobHandle": "orchestrator.client",
    "Event": "orchestrator.models",
    "JobResult": "orchestrator.models",
    "Plan": "orchestrator.models",
    "Step": "orchestrator.models",
    "StepResult": "orchestrator.models",
    "Settings": "orchestrator.settings",
}
__all__ = [
    "Client",
    "Event",
    "JobHandle",
    "JobResult",
    "Plan",
    "Settings",
    "Step",
    "StepResult",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # found once; later look-ups do not come here
    return value
