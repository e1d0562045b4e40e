"""What agents do, with no Celery in it: the Agent contract, its context, and the registry."""

from agents.base import Agent, StepContext
from agents.errors import (
    AgentError,
    CeleriacError,
    PermanentError,
    StepCancelled,
    TransientError,
)

__all__ = [
    "Agent",
    "AgentError",
    "CeleriacError",
    "PermanentError",
    "StepCancelled",
    "StepContext",
    "TransientError",
]
