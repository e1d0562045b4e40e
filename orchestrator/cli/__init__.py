"""The ``celeriac`` command: jobs (main), deployment, indexing and evaluation commands."""
