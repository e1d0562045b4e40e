"""The state store: jobs, steps, the outbox and the roster in Redis, changed only by Lua
scripts (``lua/``) whose replies are decoded in one place (``replies``)."""
