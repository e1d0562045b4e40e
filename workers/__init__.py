"""The Celery glue: the step task, worker start-up, leases and heartbeats."""
