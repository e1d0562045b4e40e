"""What the tests share: the OpenAI-compatible test server, sample agents, crash points,
polling and the CLI runner (fixtures themselves are in tests/conftest.py)."""
