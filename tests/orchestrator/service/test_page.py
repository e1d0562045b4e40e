"""The page at /, driven in a real headless Chromium (Debian's; .ci/run installs it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.orchestrator.service.conftest import Gateway

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    os.environ.get("CI") != "true" and not os.path.exists(CHROMIUM),
    reason="needs Debian's chromium (apt-get install chromium); .ci/run installs it, and "
    "under CI=true this test never skips",
)


@pytest.fixture
def browser_page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser.new_page()
        finally:
            browser.close()


@needs_chromium
def test_the_page_streams_an_answer_with_its_plan_and_citations(
    gateway: Gateway, browser_page: Any
) -> None:
    page = browser_page
    failed: list[str] = []
    page.on("pageerror", lambda error: failed.append(str(error)))
    page.on("request", lambda r: None if r.url.startswith(gateway.url) else failed.append(r.url))
    page.goto(gateway.url)
    page.wait_for_selector("#collection option[value=demo]", state="attached")
    page.fill("#question", "How do I reset my password?")
    page.click("#send")
    page.wait_for_selector(".turn[data-status=succeeded]", timeout=60_000)

    kinds = [entry["kind"] for entry in page.evaluate("window.celeriacTrace")]
    assert kinds.index("text") < kinds.index("finished")  # text arrived before the end
    steps = page.eval_on_selector_all(
        "#dag .step", "nodes => nodes.map(n => [n.dataset.step, n.dataset.state])"
    )
    assert dict(steps) == {"search": "succeeded", "answer": "succeeded"}
    assert page.locator("#dag .edge").count() == 1
    assert "password" in page.inner_text(".turn .answer").lower()
    assert page.inner_text(".turn .citations") == "reset-password"
    assert "answer_relevance" in page.inner_text(".turn .scores")
    assert "How do I reset my password?" in page.inner_text("#jobs")
    assert failed == []  # no script error, nothing fetched from elsewhere
