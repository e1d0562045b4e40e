"""An example agent package for celeriac (see agent.py)."""
