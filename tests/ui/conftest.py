"""Browser tests: one headless Chromium and one real API server (gunicorn) per session, the session worker.

Every request the browser makes is recorded; a test fails if one left 127.0.0.1. Screenshots of
every page go to test-artefacts/ui/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.api.conftest import (  # noqa: F401 - alice, bob, an admin; the Flask test client
    ApiUser,
    app,
    client,
    insert_job_logs,
    make_api_user,
    users,
)
from tests.conftest import ROOT, TEST_ENV, free_port, stop_process, until_ready
from tests.fleet.conftest import add_devices  # noqa: F401 - inventory rows for fleet runs

ARTEFACTS = ROOT / "test-artefacts" / "ui"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
LOOPBACK = "127.0.0.1"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}  # the narrowest phone we promise

# Every request of the session: (test, url). The last test reports how many left loopback.
BROWSER_REQUESTS: list[tuple[str, str]] = []


def left_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return False
    return parts.hostname != LOOPBACK


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path


def _wait_until_it_answers(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    def answers() -> bool:
        try:
            return requests.get(f"{url}/healthz", timeout=5).status_code < 500
        except requests.RequestException:  # not listening yet, or busy starting
            return False

    until_ready(process, answers, "the API server", log_path.read_text)


@pytest.fixture(scope="session")
def api_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The API as it runs in production: gunicorn with threads (each open event stream holds one)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("api") / "gunicorn.log"
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"{LOOPBACK}:{port}", "--workers", "1",
        "--worker-class", "gthread", "--threads", "24", "--timeout", "120", "api:create_app()",
    ]  # fmt: skip
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **TEST_ENV}, stdout=log, stderr=log)
    url = f"http://{LOOPBACK}:{port}"
    try:
        _wait_until_it_answers(process, url, log_path)
    except BaseException:
        stop_process(process)  # never leave a server behind when the session cannot use it
        raise
    yield Server(url, process, log_path)
    stop_process(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"Chromium is not installed at {CHROMIUM}: scripts/test installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Dashboard:
    """A browser tab on the dashboard, recording where its requests go."""

    def __init__(self, browser: Any, server: Server, test_name: str, viewport: dict[str, int]):
        self.server = server
        self.test_name = test_name
        self.context = browser.new_context(viewport=viewport, timezone_id="America/New_York", locale="en-US")
        self.context.on("request", lambda request: BROWSER_REQUESTS.append((test_name, request.url)))
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.page.on("dialog", lambda dialog: dialog.accept())
        # Uncaught script errors fail every test (checked when the tab closes); console errors are
        # kept too, but a page that shows a 4xx on purpose logs one, so tests check those themselves.
        self.script_errors: list[str] = []
        self.console_errors: list[str] = []
        self.page.on("pageerror", lambda error: self.script_errors.append(str(error)))
        self.page.on(
            "console", lambda message: message.type == "error" and self.console_errors.append(message.text)
        )

    def open(self, path: str) -> Any:
        self.page.goto(self.server.url + path)
        return self.page

    def sign_in(self, person: ApiUser) -> None:
        self.page.fill("#username", person.username)
        self.page.fill("#password", person.password)
        self.page.click("#sign-in button[type=submit]")
        self.page.wait_for_url(lambda url: "/ui/sign-in" not in url)

    def screenshot(self, name: str) -> None:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def dashboard(browser, api_server, worker, request) -> Iterator[Callable[..., Dashboard]]:  # type: ignore[no-untyped-def]
    opened: list[Dashboard] = []

    def open_tab(viewport: dict[str, int] = LAPTOP) -> Dashboard:
        tab = Dashboard(browser, api_server, request.node.name, viewport)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.close()
    errors = [error for tab in opened for error in tab.script_errors]
    assert errors == [], f"the page's script raised: {errors}"
    mine = [url for test, url in BROWSER_REQUESTS if test == request.node.name]
    assert mine, "the browser made no request at all"
    assert [url for url in mine if left_loopback(url)] == []
