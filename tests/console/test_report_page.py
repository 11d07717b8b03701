"""The printable report in a real headless Chromium: reached from the incident page, hostile
alert text shown as text, the SVG timeline drawn, and nothing refused by the console's content
security policy (a refused inline style or script shows up as a console error)."""

from __future__ import annotations

from playwright.async_api import BrowserContext, expect
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.domain import Environment
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import submit_alert
from tests.console.conftest import Shooter, sign_in
from tests.console.test_browser import HOSTILE_TITLE, not_pwned
from tests.support.incidents import make_alert
from tests.support.principals import Tokens


async def test_printable_report_from_the_incident_page(
    api: tuple[str, Tokens],
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    context: BrowserContext,
    shoot: Shooter,
) -> None:
    url, tokens = api
    alert = make_alert(lab, "prompt_injection", Environment.dev, title=HOSTILE_TITLE)
    incident = (
        await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
    ).incident_id
    page = await context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    await sign_in(page, url, tokens.devon)
    await page.goto(f"{url}/console/incidents/{incident}")
    await expect(page.locator("#incident-status")).to_have_text("closed", timeout=90_000)

    async with page.expect_navigation():
        await page.click("#report-link")
    await expect(page.locator("#report-title")).to_have_text(HOSTILE_TITLE)
    await expect(page.locator("#report-status")).to_have_text("closed (resolved)")
    await expect(page.locator("#report-timeline rect")).to_have_count(4)  # one bar per phase
    rows = page.locator("#report-actions tr")
    assert await rows.count() > 1
    assert await page.locator("#report-ledger li").first.inner_text() != ""
    await not_pwned(page)
    await shoot(page, "report")
    assert console_errors == []
