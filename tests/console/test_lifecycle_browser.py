"""The lifecycle in the console, in headless Chromium against the real stack: the SLA countdown
ticks on the incident, list and approvals pages; a responder acknowledges, resolves and closes
with the page's buttons; an auditor gets none of them. Screenshots in test-artifacts/console/."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, expect
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.settings import Settings
from tests.console.conftest import Shooter, sign_in
from tests.console.test_browser import FIRST_STEP, not_pwned, open_prod_incident
from tests.support.incidents import lab_settings
from tests.support.principals import Tokens


@pytest.fixture
def fb_settings(lab: LabInfo) -> Settings:
    """A quiet period long enough that a resolved incident waits to be closed."""
    return lab_settings(lab, incident_quiet_seconds=3600)


async def test_responder_acknowledges_resolves_and_closes_from_the_page(
    api: tuple[str, Tokens],
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    context: BrowserContext,
    shoot: Shooter,
) -> None:
    url, tokens = api
    incident = await open_prod_incident(dev_client, fb_settings, lab)
    page = await context.new_page()
    await sign_in(page, url, tokens.ann)
    row = page.locator(f'tr[data-incident="{incident}"]')
    await expect(row.locator("td.sla")).to_contain_text(re.compile(r"acknowledge in 1\dm"))

    await page.goto(f"{url}/console/incidents/{incident}")
    await expect(page.locator(f'.pending[data-step="{FIRST_STEP}"]')).to_be_visible()
    sla = page.locator("#incident-sla time[data-deadline]")
    await expect(page.locator("#incident-sla")).to_contain_text("acknowledge due")
    await expect(sla).not_to_have_text(await sla.text_content() or "")  # counts down
    actions = page.locator("#incident-actions")
    await expect(actions.locator("button[value=acknowledge]")).to_be_visible()
    await expect(actions.locator("button[value=close]")).to_have_count(0)
    await shoot(page, "1-open")
    await not_pwned(page)

    await actions.locator("button[value=acknowledge]").click()
    await expect(page.locator(".flash.ok")).to_contain_text("acknowledge on step incident")
    await expect(page.locator("#incident-acknowledged")).to_contain_text("ann")
    await expect(page.locator("#incident-sla")).to_contain_text("resolve due")
    await expect(actions.locator("button[value=acknowledge]")).to_have_count(0)

    await actions.locator("button[value=resolve]").click()
    await expect(page.locator(".flash.error")).to_have_text("a reason is required to resolve.")
    await actions.locator("textarea").fill("rotated every key the caller held")
    await actions.locator("button[value=resolve]").click()
    await expect(page.locator(".flash.ok")).to_contain_text("resolve on step incident")
    await expect(page.locator("#incident-status")).to_have_text("resolved")
    await expect(page.locator(f'tr[data-step="{FIRST_STEP}"] .step-status')).to_have_text("skipped")
    await expect(page.locator("#pending")).to_contain_text("Nothing is waiting.")
    await shoot(page, "2-resolved")

    await actions.locator("textarea").fill("post-mortem filed")
    await actions.locator("button[value=close]").click()
    await expect(page.locator("#incident-status")).to_have_text("closed")
    await expect(page.locator("#incident-actions")).to_have_count(0)
    timeline = page.locator("#timeline")
    for event in ("IncidentAcknowledged", "IncidentResolved", "IncidentClosed"):
        await expect(timeline.locator(f'li[data-type="{event}"]')).to_have_count(1)
    await shoot(page, "3-closed")


async def test_auditor_sees_the_countdown_but_no_lifecycle_buttons(
    api: tuple[str, Tokens],
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    context: BrowserContext,
) -> None:
    url, tokens = api
    incident = await open_prod_incident(dev_client, fb_settings, lab)
    page = await context.new_page()
    await sign_in(page, url, tokens.audrey)
    await page.goto(f"{url}/console/incidents/{incident}")
    await expect(page.locator(f'.pending[data-step="{FIRST_STEP}"]')).to_be_visible()
    await expect(page.locator("#incident-sla")).to_contain_text("acknowledge due")
    assert await page.locator("#incident-actions, button[value=acknowledge]").count() == 0
    csrf = await page.locator("header input[name=csrf_token]").get_attribute("value")
    forged = await page.request.post(
        f"{url}/console/incidents/{incident}/steps/incident/decisions",
        form={"csrf_token": csrf or "", "decision": "acknowledge"},
        max_redirects=0,
    )
    assert forged.status == 403
