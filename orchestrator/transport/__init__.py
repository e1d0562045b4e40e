"""Celery glue: the app and its dispatcher, broker settings and task events for Flower."""
