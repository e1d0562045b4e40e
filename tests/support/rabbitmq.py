"""A private RabbitMQ node on free loopback ports, for tests of the RabbitMQ broker.

Debian's ``rabbitmq-server`` (which ``.ci/run`` installs), started with a node name,
ports, data and log folders, an Erlang cookie and an ``epmd`` of its own under a temporary
folder, so it never meets the machine's shared node. The management plugin is on (its
HTTP API makes a virtual host per deployment in milliseconds).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from orchestrator.embedded.procs import die_with_parent, stop_process
from orchestrator.embedded.redis_server import free_ports

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")  # Debian's, without its su wrapper


def rabbitmq_server() -> str | None:
    if SERVER.exists():
        return str(SERVER)
    return shutil.which("rabbitmq-server")


needs_rabbitmq = pytest.mark.skipif(
    os.environ.get("CI") != "true" and rabbitmq_server() is None,
    reason="needs RabbitMQ (apt-get install rabbitmq-server); .ci/run installs it, and under "
    "CI=true these tests never skip",
)


class RabbitNode:
    """``with RabbitNode() as node: node.vhost()`` is an ``amqp://`` URL of a fresh vhost."""

    def __init__(self, startup_timeout: float = 120.0) -> None:
        self.startup_timeout = startup_timeout
        self._dir = Path(tempfile.mkdtemp(prefix="celeriac-rabbitmq-"))
        self.port, self.api_port, self._dist_port, self._epmd_port = free_ports(4)
        self.node = f"celeriac-test-{uuid.uuid4().hex[:8]}@localhost"
        self.epmd: subprocess.Popen[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RabbitNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _env(self) -> dict[str, str]:
        d = self._dir
        return {
            **os.environ,
            "HOME": str(d),  # the Erlang cookie is made and read here
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self._dist_port),
            "ERL_EPMD_PORT": str(self._epmd_port),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
        }

    def start(self) -> None:
        server = rabbitmq_server()
        assert server, "no rabbitmq-server (apt-get install rabbitmq-server)"
        (self._dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {self.api_port}\n"
        )
        (self._dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self._dir / "rabbitmq-env.conf").write_text("")
        self.epmd = subprocess.Popen(
            ["epmd", "-port", str(self._epmd_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self._spawn(server)

    def _spawn(self, server: str) -> None:
        log = open(self._dir / "server.out", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [server],
            env=self._env(),
            cwd=self._dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited; see {self._dir}/server.out")
            if self._api("GET", "overview") is not None:
                return
            time.sleep(0.1)
        raise RuntimeError(f"rabbitmq-server did not start; see {self._dir}/server.out")

    def _api(self, method: str, path: str, body: object = None) -> object | None:
        """A call to the management API; None while it does not answer."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}/api/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode(),
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                text = response.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None
        return json.loads(text) if text else {}

    def vhost(self) -> str:
        """A new virtual host of its own (queues apart from every other): its URL."""
        name = f"t-{uuid.uuid4().hex[:10]}"
        assert self._api("PUT", f"vhosts/{name}", {}) is not None
        assert (
            self._api(
                "PUT", f"permissions/{name}/guest", {"configure": ".*", "write": ".*", "read": ".*"}
            )
            is not None
        )
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{name}"

    def drop(self, url: str) -> None:
        self._api("DELETE", f"vhosts/{url.rsplit('/', 1)[1]}")

    def queue(self, url: str, queue: str) -> dict[str, object]:
        """The management API's view of ``queue`` (``messages``, ``type``, ``durable``...)."""
        found = self._api("GET", f"queues/{url.rsplit('/', 1)[1]}/{queue}")
        assert isinstance(found, dict), f"no queue {queue}"
        return found

    def restart(self) -> None:
        """Stop the node (it shuts down cleanly) and start it again, same ports and data."""
        assert self.process is not None
        stop_process(self.process, timeout=60)
        server = rabbitmq_server()
        assert server
        self._spawn(server)

    def stop(self) -> None:
        for process in (self.process, self.epmd):
            if process is not None:
                stop_process(process, timeout=60)
        self.process = self.epmd = None
        shutil.rmtree(self._dir, ignore_errors=True)
