"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Fixtures for every browser test:
- `browser` (session): one Chromium for the whole run, launched once.
- `page`: a fresh browser context (own cookies) and page whose base URL is the live server,
  so `page.goto("/clusters/postgresql/")` works. Any uncaught JavaScript error on the page
  fails the test.
- `login`: `login(page, user)` logs in through the real login form.
- `screenshot`: `screenshot(page, "name")` saves test-artifacts/screenshots/name.png.

Using `page` pulls in `live_server`, which gives the test transactional database access
(the server thread must see committed rows).
"""

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.services import require_service

# Playwright's sync API runs an event loop in the test's thread, which makes Django refuse ORM
# calls there ("you cannot call this from an async context"). The test thread only sets up and
# checks rows while the browser waits, so the guard is safe to lift here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# The password tests.support.fixtures.make_user gives every test user.
PASSWORD = "correct-horse-9"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Keep failures quick: a page of this app renders in well under a second.
DEFAULT_TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    require_service(os.path.exists(CHROMIUM), f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    js_errors: list[str] = []
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    if js_errors:
        pytest.fail("JavaScript errors on the page: " + "; ".join(js_errors))


def _login(page, user, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/accounts/login/).*$"))


@pytest.fixture
def login() -> Callable[..., None]:
    """`login(page, user)`: log in through the form (users from tests.support.fixtures)."""
    return _login


def _screenshot(page, name: str) -> Path:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """`screenshot(page, "name")` saves a full-page PNG under test-artifacts/screenshots/."""
    return _screenshot
