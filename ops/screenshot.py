"""``make screenshot``: the Flower dashboard as a user sees it, after a few jobs, as a PNG.

Starts a private Redis, embedded workers and Flower (with a login), runs some goals on
the demo collection, and has headless Chromium (Debian's ``chromium``) photograph
Flower's task list: ``ops/flower-tasks.png``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from orchestrator.client import Client
from orchestrator.embedded.deployment import Embedded, settings_env
from orchestrator.embedded.procs import stop_process
from orchestrator.embedded.redis_server import RedisServer, free_port
from orchestrator.settings import Settings

LOGIN = "demo:demo"
GOALS = [
    "How do I turn on two-factor authentication?",
    "Compare exporting notes with sharing notes",
    "Find what the documents say about refunds",
]
OUT = Path(__file__).resolve().parent / "flower-tasks.png"


def _status(url: str) -> int:
    request = urllib.request.Request(url)
    request.add_header("Authorization", "Basic " + base64.b64encode(LOGIN.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _tasks(base: str) -> int:
    request = urllib.request.Request(f"{base}/api/tasks")
    request.add_header("Authorization", "Basic " + base64.b64encode(LOGIN.encode()).decode())
    with urllib.request.urlopen(request, timeout=5) as response:
        return len(json.loads(response.read()))


def main() -> int:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("needs Chromium: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as data, RedisServer() as server:
        settings = Settings(redis_url=server.url, data_dir=Path(data), llm_backend="offline")
        with Embedded(settings) as live:
            port = free_port()
            env = {**os.environ, **settings_env(live)}
            flower = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "orchestrator",
                    "flower",
                    f"--port={port}",
                    f"--basic-auth={LOGIN}",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 60
                while _status(f"{base}/api/workers") != 200 and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(2)  # Flower's event receiver connects a little after its web server
                with Client(live) as client:
                    results = [
                        job.wait(timeout=60) for job in [client.submit(goal=g) for g in GOALS]
                    ]
                tasks = sum(len(result.steps) + 2 for result in results)  # + plan, finalize
                deadline = time.monotonic() + 30
                while _tasks(base) < tasks and time.monotonic() < deadline:
                    time.sleep(0.2)  # until the last task events have reached Flower
                subprocess.run(
                    [
                        browser,
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-quic",
                        "--no-first-run",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        f"--user-data-dir={data}/chromium",
                        "--window-size=1400,900",
                        f"--screenshot={OUT}",
                        f"http://{LOGIN}@127.0.0.1:{port}/tasks",
                    ],
                    check=True,
                    capture_output=True,
                    timeout=120,
                )
            finally:
                stop_process(flower, timeout=10)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
