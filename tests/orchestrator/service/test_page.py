"""The page at /, driven in a real headless Chromium (Debian's; .ci/run installs it): an
answer streamed with its plan, a plan or a step approved or rejected there, keys."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from orchestrator.service.keys import Keys
from orchestrator.settings import Settings
from tests.orchestrator.service.conftest import Gateway, plan_of

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


def opened(page: Any, gateway: Gateway) -> Any:
    failed: list[str] = []
    page.on("pageerror", lambda error: failed.append(str(error)))
    page.goto(gateway.url)
    page.wait_for_selector("#collection option[value=demo]", state="attached")
    return failed


def follow_from_the_list(page: Any, job_id: str) -> None:
    page.reload()
    page.click(f'#jobs li[data-job="{job_id}"]')
    page.wait_for_selector("#approval:not([hidden])", timeout=30_000)


@needs_chromium
def test_a_plan_waits_on_the_page_until_a_person_approves_it(
    gateway: Gateway, browser_page: Any
) -> None:
    page = browser_page
    failed = opened(page, gateway)
    page.check("#approve-first")
    page.fill("#question", "How do I reset my password?")
    page.click("#send")
    page.wait_for_selector("#approval:not([hidden])", timeout=30_000)
    shown = json.loads(page.input_value("#approval-plan"))
    assert [step["agent"] for step in shown["steps"]] == ["retrieval", "generation"]
    job_id = page.inner_text("#approval-job")
    with gateway.http() as api:
        assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "awaiting_approval"
    page.click("#approve")
    page.wait_for_selector(".turn[data-status=succeeded]", timeout=60_000)
    assert page.is_hidden("#approval")
    assert "password" in page.inner_text(".turn .answer").lower()
    assert failed == []


@needs_chromium
def test_a_plan_rejected_or_badly_edited_on_the_page(gateway: Gateway, browser_page: Any) -> None:
    page = browser_page
    plan = plan_of("echo", text="hello")
    with gateway.http() as api:
        job_id = api.post("/v1/jobs", json={"plan": plan, "approval": "plan"}).json()["job_id"]
        failed = opened(page, gateway)
        follow_from_the_list(page, job_id)
        page.fill("#approval-plan", '{"steps": [{"id": "a", "agent": "no-such-agent"}]}')
        page.click("#approve")
        page.wait_for_function("document.getElementById('approval-error').textContent !== ''")
        assert "no-such-agent" in page.inner_text("#approval-error")  # the server's reason
        assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "awaiting_approval"
        page.click("#reject")  # without a reason: the page asks for one, nothing is sent
        page.wait_for_function(
            "document.getElementById('approval-error').textContent.includes('reason')"
        )
        assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "awaiting_approval"
        page.fill("#reason", "not on a Friday")
        page.click("#reject")
        page.wait_for_selector(".turn[data-status=rejected]", timeout=30_000)
        assert "not on a Friday" in page.inner_text(".turn .answer")
        result = api.get(f"/v1/jobs/{job_id}").json()
        assert result["status"] == "rejected" and "not on a Friday" in result["error"]
    assert failed == []


@needs_chromium
def test_a_step_that_needs_a_yes_shows_its_input_and_runs_once_approved(
    gateway: Gateway, browser_page: Any
) -> None:
    page = browser_page
    with gateway.http() as api:
        job_id = api.post("/v1/jobs", json={"plan": plan_of("refund", text="12.50 EUR")}).json()[
            "job_id"
        ]
        failed = opened(page, gateway)
        follow_from_the_list(page, job_id)
        assert 'Step "a" (refund)' in page.inner_text("#approval-what")
        assert json.loads(page.input_value("#approval-plan")) == {"text": "12.50 EUR"}
        assert page.get_attribute('#dag .step[data-step="a"]', "data-state") == "awaiting"
        page.click("#approve")
        page.wait_for_selector(".turn[data-status=succeeded]", timeout=30_000)
        assert api.get(f"/v1/jobs/{job_id}").json()["answer"] == {"text": "refunded 12.50 EUR"}
    assert failed == []


@needs_chromium
def test_the_page_with_keys_works_with_the_right_one_and_says_so_with_a_wrong_one(
    bare: Settings, gateways: Callable[..., Gateway], browser_page: Any
) -> None:
    with redis.Redis.from_url(bare.redis_url or "", decode_responses=True) as r:
        secret = Keys(r).create("page", collections=["demo"]).secret
    gateway = gateways(bare, allow_anonymous=False)
    page = browser_page
    page.goto(gateway.url)
    page.wait_for_function("document.getElementById('error').textContent !== ''")
    page.fill("#key", "ck_wrong")
    page.dispatch_event("#key", "change")
    page.wait_for_function("document.getElementById('error').textContent !== ''")
    assert page.locator("#collection option").count() == 0
    page.fill("#key", secret)
    page.dispatch_event("#key", "change")
    page.wait_for_selector("#collection option[value=demo]", state="attached")
    assert page.inner_text("#error") == ""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.reload()
    page.wait_for_selector("#collection option[value=demo]", state="attached")  # kept
    assert all(secret not in url for url in requests)  # in a header, never in a URL
