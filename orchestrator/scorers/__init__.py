"""Scorers of the built-in agent types, one module per type (see ``orchestrator.scoring``)."""
