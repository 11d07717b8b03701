"""Console test fixtures: the real stack of `tests.support.stack` (`api`: uvicorn, worker, Temporal
dev server, SQLite store, the principals of `tests.support.principals`), one headless Debian
Chromium for the whole session, a fresh browser context per test, and screenshots under
test-artifacts/console/.

Chromium missing is a failure, not a skip: `.ci/install-packages` installs it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for every console test; each `launch` gets a fresh temporary profile."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run .ci/install-packages (Debian package chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


@pytest_asyncio.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    yield context
    await context.close()


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Shooter:
    return Shooter(re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name))


class Shooter:
    """Saves full-page screenshots as test artifacts, named after the test and the moment."""

    def __init__(self, test_name: str) -> None:
        self.test_name = test_name

    async def __call__(self, page: Page, moment: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.test_name}--{moment}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path


async def sign_in(page: Page, base_url: str, token: str) -> None:
    """Through the real sign-in form, as a person would."""
    await page.goto(f"{base_url}/console/login")
    await page.fill("#token", token)
    async with page.expect_navigation():
        await page.click("form button[type=submit]")
    assert "/console/incidents" in page.url, await page.content()


async def http_sign_in(http: httpx.AsyncClient, token: str) -> str:
    """Sign an httpx client in (it keeps the cookie); returns the session's CSRF token."""
    form = await http.get("/console/login")
    csrf = hidden(form.text, "csrf_token")
    done = await http.post("/console/login", data={"token": token, "csrf_token": csrf})
    assert done.status_code == 303, done.text
    page = await http.get("/console/incidents")
    assert page.status_code == 200, page.text
    return hidden(page.text, "csrf_token")


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no hidden field {name!r} in the page"
    return found.group(1)
