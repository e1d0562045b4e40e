"""``make screenshot``, the page: ``celeriac serve`` on a deployment of its own, two turns of
a conversation on the demo collection, photographed by headless Chromium (Debian's
``chromium``, driven by Playwright): ``ops/page.png``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from orchestrator.embedded.procs import stop_process
from orchestrator.embedded.redis_server import free_port

QUESTIONS = ["How do I export my notes?", "and can I do it on my phone?"]
OUT = Path(__file__).resolve().parent / "page.png"


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            return int(response.status) == 200
    except (urllib.error.HTTPError, OSError):
        return False


def main() -> int:
    from playwright.sync_api import sync_playwright

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("needs Chromium: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CELERIAC_")},
            "CELERIAC_DATA_DIR": data,
            "CELERIAC_LLM_BACKEND": "offline",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "serve", "--port", str(port)], env=env
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while not _ready(url):
                if time.monotonic() > deadline or server.poll() is not None:
                    print("celeriac serve did not get ready", file=sys.stderr)
                    return 1
                time.sleep(0.1)
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=browser, headless=True)
                page = chromium.new_page(viewport={"width": 1280, "height": 640})
                page.goto(url)
                page.wait_for_selector("#collection option", state="attached")
                for number, question in enumerate(QUESTIONS, start=1):
                    page.fill("#question", question)
                    page.click("#send")
                    page.wait_for_function(
                        f"document.querySelectorAll('.turn[data-status]').length >= {number}"
                    )
                page.screenshot(path=str(OUT))
                chromium.close()
        finally:
            stop_process(server, timeout=15)
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
