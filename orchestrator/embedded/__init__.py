"""Embedded mode: a private redis-server and worker for one command (``celeriac run``)."""
