"""Swagger UI at /docs in a real headless Chromium (Debian's, `make browser`), driven by
Playwright: the page renders our document, its "Authorize" button takes a bearer token, and
"Try it out" runs a query with that token against `threadweaver api` (with a worker and a
projector) on the embedded stack. Nothing the page needs may be blocked by its Content
Security Policy, and it may reach no other origin.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, sync_playwright

from pipeline.client.commands import new_id
from pipeline.settings import Settings
from tests.support.api import api_processes
from tests.support.auth import bearer, token_for
from tests.support.projector import ReadModel, create_read_model, drop_read_model

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = Path(os.environ.get("THREADWEAVER_CHROMIUM", "/usr/bin/chromium"))
# Without these, Chromium keeps calling Google's services, which this machine refuses.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000
MIN_VERSION_WAIT_S = 20.0


@dataclass(frozen=True)
class Api:
    base_url: str
    account: str
    thread_id: str
    title: str


@pytest.fixture(scope="module")
def chromium() -> Path:
    # A missing browser is a failure, not a skip: CI must not pass without this test.
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"no headless Chromium at {CHROMIUM}: `make browser` installs Debian's chromium "
            "(apt-get install chromium), or set THREADWEAVER_CHROMIUM"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def api(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The API with one thread of `account` in its read model."""
    settings: Settings = stack.settings()
    logs = Path(tmp_path_factory.mktemp("browser"))
    model: ReadModel = create_read_model(settings, "browser")
    account, title = new_id(), "Lunch, from the browser test"
    try:
        with (
            api_processes(
                settings,
                model,
                logs,
                THREADWEAVER_API_MIN_VERSION_WAIT_S=str(MIN_VERSION_WAIT_S),
                THREADWEAVER_API_REPLY_TIMEOUT_S="60",
            ) as (base_url, _),
            httpx.Client(base_url=base_url, timeout=MIN_VERSION_WAIT_S + 30) as http,
        ):
            body = {"title": title, "administrator_ids": [], "member_ids": []}
            created = http.post("/v1/threads/create", json=body, headers=bearer(account))
            assert created.status_code == 200, created.text
            thread_id = created.json()["thread_id"]
            # Projected before the page asks for it (read your writes).
            seen = http.get(
                f"/v1/threads/{thread_id}", params={"min_version": 1}, headers=bearer(account)
            )
            assert seen.status_code == 200, seen.text
            yield Api(base_url, account, thread_id, title)
    finally:
        drop_read_model(model, settings.pg_dsn or "")


class Watch:
    """What the page did besides rendering: console errors, uncaught errors, requests."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("request", self._request)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)


def test_try_it_out_runs_a_query_with_the_bearer_token(
    chromium: Path, api: Api, tmp_path: Path
) -> None:
    token = token_for(api.account)
    # What the page showed, to look at when an assertion below fails.
    screenshot = tmp_path / "swagger-ui.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(WAIT_MS)
            watch = Watch(page)
            page.goto(f"{api.base_url}/docs")
            page.locator(".information-container .title").filter(
                has_text="Threadweaver API"
            ).wait_for()

            # Authorize: the bearer scheme's dialog takes the token.
            page.locator(".auth-wrapper .authorize").click()
            dialog = page.locator(".dialog-ux .modal-ux")
            dialog.locator("input").fill(token)
            dialog.locator(".auth-btn-wrapper .authorize").click()
            dialog.locator(".auth-btn-wrapper .btn-done").click()

            # The thread list of the token's account, as a visitor would run it.
            operation = page.locator("#operations-threads-listThreads")
            operation.locator(".opblock-summary").click()
            operation.locator(".try-out__btn").click()
            operation.locator(".execute").click()
            response = operation.locator(".live-responses-table tr.response")
            status = response.locator(".response-col_status")
            status.wait_for()
            answer = response.locator(".response-col_description")
            shown_status, shown_body = status.inner_text().strip(), answer.inner_text()
            curl = operation.locator(".curl-command").inner_text()
            page.screenshot(path=screenshot)
        finally:
            browser.close()

    assert shown_status == "200", (shown_body, screenshot)
    assert api.thread_id in shown_body
    assert api.title in shown_body
    assert f"Authorization: Bearer {token}" in curl
    assert not watch.errors, watch.errors
    elsewhere = [url for url in watch.requests if not url.startswith(api.base_url)]
    assert not elsewhere, elsewhere
