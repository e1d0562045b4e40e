"""``celeriac eval``: datasets, the runs that put their items through a deployment, the
measures over the results, and the report."""
