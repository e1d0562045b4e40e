"""celeriac's control plane: plans, the engine, the store, the SDK and the CLI."""

from orchestrator.client import Client, JobHandle
from orchestrator.models import Event, JobResult, Plan, Step, StepResult
from orchestrator.settings import Settings

__all__ = ["Client", "Event", "JobHandle", "JobResult", "Plan", "Settings", "Step", "StepResult"]
