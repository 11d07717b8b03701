"""Merging from the console in a real headless Chromium: a responder merges one prod incident
into another from its page, lands on the survivor listing what moved, and the merged one
points at it; a mistake (the incident itself) shows on the page; an auditor has no form."""

from __future__ import annotations

from playwright.async_api import BrowserContext, expect
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import describe
from tests.console.conftest import Shooter, sign_in
from tests.console.test_browser import open_prod_incident
from tests.support.incidents import eventually
from tests.support.principals import Tokens

HOSTILE_REASON = "<script>window.__pwned = 1</script> same attacker"


async def open_incident(client: Client, settings: Settings, lab: LabInfo) -> str:
    """A prod incident (its title hostile) once it waits for a decision."""
    incident = await open_prod_incident(client, settings, lab)

    async def waiting() -> bool:
        return bool((await describe(client, incident)).pending)

    await eventually(waiting, timeout=60)
    return incident


async def test_a_responder_merges_from_the_incident_page(
    api: tuple[str, Tokens],
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    context: BrowserContext,
    shoot: Shooter,
) -> None:
    url, tokens = api
    survivor = await open_incident(dev_client, fb_settings, lab)
    merged = await open_incident(dev_client, fb_settings, lab)

    auditor = await context.new_page()
    await sign_in(auditor, url, tokens.audrey)
    await auditor.goto(f"{url}/console/incidents/{merged}")
    await expect(auditor.locator("h1.incident-title")).to_be_visible()
    assert await auditor.locator("form.merge").count() == 0
    await auditor.close()

    page = await context.new_page()
    await sign_in(page, url, tokens.ann)
    await page.goto(f"{url}/console/incidents/{merged}")
    form = page.locator("form.merge")
    await form.locator("#merge-into").fill(merged)
    await form.locator("#merge-reason").fill("oops")
    await form.locator("button").click()
    await expect(page.locator(".flash.error")).to_contain_text("cannot be merged into itself")

    form = page.locator("form.merge")
    await form.locator("#merge-into").fill(survivor)
    await form.locator("#merge-reason").fill(HOSTILE_REASON)
    async with page.expect_navigation():
        await form.locator("button").click()
    assert page.url.startswith(f"{url}/console/incidents/{survivor}"), page.url
    await expect(page.locator(".flash.ok")).to_contain_text("Merged into this incident")
    row = page.locator("tr.merged-incident")
    await expect(row).to_contain_text(merged)
    await expect(row).to_contain_text(HOSTILE_REASON)  # shown as text, never run
    assert await page.evaluate("() => window.__pwned === undefined")

    async def counted() -> bool:  # the projection counts the moved alert as the survivor's
        await page.reload()
        return "2 (0 resolved)" in await page.locator("dl.facts").inner_text()

    await eventually(counted, timeout=30)
    await shoot(page, "survivor")

    await page.goto(f"{url}/console/incidents/{merged}")
    await expect(page.locator("#merged-into a")).to_have_attribute(
        "href", f"/console/incidents/{survivor}"
    )
    assert await page.locator("form.merge").count() == 0  # closed: nothing more to merge
    await shoot(page, "merged")
