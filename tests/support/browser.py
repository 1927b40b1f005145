"""pytest plugin: a real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright for Python.

Registered in tests/conftest.py ``pytest_plugins``. Fixtures:

    browser       playwright Browser: one Chromium for the whole session (launched lazily by the session
                  fixture `chromium_session`), handed to each test that asks for it
    offline_page  a fresh Page in its own context that lets only loopback requests through; every other
                  request is aborted and recorded in ``page.blocked`` (a list of URLs), so a test can
                  assert that a page rendered *without* the network: ``assert page.blocked == []``

The browser is Debian's package (installed by scripts/install-test-deps.sh), never one that Playwright
downloads: ``playwright install`` is not run anywhere. Tests using these fixtures get the ``browser`` marker
(``-m "not browser"`` deselects them). Nothing skips: a browser that cannot start fails its tests, loudly.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path(os.environ.get("CDS_TEST_CHROMIUM", "/usr/bin/chromium"))
# headless, and quiet: no background traffic of Chromium's own (updates, sync, safe browsing, first run)
CHROMIUM_ARGS = [
    "--no-sandbox",  # the suite runs as root in CI; Chromium's sandbox refuses root
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
FIX_HINT = "run `make test` (scripts/install-test-deps.sh installs Debian's chromium)"


def launch_chromium(playwright: Any) -> Any:
    """Launch Debian's Chromium headless with the suite's flags (also usable outside pytest)."""
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: {FIX_HINT}")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def chromium_session() -> Iterator[tuple[Any, asyncio.AbstractEventLoop]]:
    """One Chromium for the whole session, and the event loop Playwright's sync API runs it on."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    loop = asyncio.get_running_loop()  # Playwright's sync API marks its loop as running in this thread
    try:
        chromium = launch_chromium(playwright)
    except BaseException:
        playwright.stop()
        raise
    # Between Playwright calls the thread would keep that loop marked as running, and every later test
    # calling asyncio.run() would fail ("cannot be called from a running event loop"): unmark it outside
    # browser tests (the `browser` fixture marks it again for the test that uses it).
    asyncio._set_running_loop(None)
    try:
        yield chromium, loop
    finally:
        asyncio._set_running_loop(loop)
        try:
            chromium.close()
            playwright.stop()
        finally:
            asyncio._set_running_loop(None)


@pytest.fixture
def browser(chromium_session: tuple[Any, asyncio.AbstractEventLoop]) -> Iterator[Any]:
    """The session's Chromium (launched once, on first use), handed to one test at a time. Inside a test
    that uses it, asyncio.run() is not available (Playwright's loop is the thread's running loop)."""
    chromium, loop = chromium_session
    asyncio._set_running_loop(loop)
    try:
        yield chromium
    finally:
        asyncio._set_running_loop(None)


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return (parts.hostname or "") in LOOPBACK


@pytest.fixture
def offline_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.blocked = []

    def gate(route: Any) -> None:
        url = route.request.url
        if is_loopback(url):
            route.continue_()
        else:
            page.blocked.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", gate)
    try:
        yield page
    finally:
        context.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: needs Debian's chromium (installed by make test)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"browser", "offline_page", "chromium_session"} & set(getattr(item, "fixturenames", ())):
            item.add_marker("browser")
