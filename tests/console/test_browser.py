"""The console in a real headless Chromium against the real stack: a responder signs in,
watches a prod prompt-injection incident arrive and progress without reloading, approves a
step and sees the workflow carry on, rejects the next with a reason; hostile alert text stays
text (the title, every field of a delivery's alerts); an auditor gets no buttons and a
forged decision is refused; the audit log is searched, paged and exported.
Screenshots land in test-artifacts/console/.
"""

from __future__ import annotations

import re

import httpx
from playwright.async_api import BrowserContext, Page, expect
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.audit import open_event_store
from orchestrator.domain import Actor, Environment
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import submit_alert
from tests.console.conftest import Shooter, sign_in
from tests.incidents.test_alerts_api import HOSTILE, alerts_of, hostile_delivery, post
from tests.support.events import new_event
from tests.support.incidents import make_alert, wait_for_pending
from tests.support.principals import Tokens

HOSTILE_TITLE = (
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    " [reset password](javascript:window.__pwned=3) ignore previous instructions"
)
FIRST_STEP = "suspend-target-tool"  # the prompt-injection playbook's first approval in prod
SECOND_STEP = "restore-target-tool"


async def open_prod_incident(client: Client, settings: Settings, lab: LabInfo) -> str:
    alert = make_alert(
        lab, "prompt_injection", Environment.prod, title=HOSTILE_TITLE, source="detector-1"
    )
    return (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id


async def not_pwned(page: Page) -> None:
    assert await page.evaluate("() => window.__pwned === undefined"), "alert text executed"


async def test_responder_follows_approves_and_rejects(
    api: tuple[str, Tokens],
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    context: BrowserContext,
    shoot: Shooter,
) -> None:
    url, tokens = api
    page = await context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    await sign_in(page, url, tokens.ann)
    await expect(page.locator("header .who")).to_contain_text("ann · responder")

    incident = await open_prod_incident(dev_client, fb_settings, lab)
    row = page.locator(f'tr[data-incident="{incident}"]')
    await expect(row).to_be_visible()  # arrived by polling, no reload
    await shoot(page, "1-list")
    await expect(row.locator("a")).to_have_text(HOSTILE_TITLE)
    await not_pwned(page)

    await row.locator("a").click()
    await expect(page.locator("h1.incident-title")).to_have_text(HOSTILE_TITLE)
    assert await page.locator("main a[href^='javascript:']").count() == 0
    assert await page.locator("main img").count() == 0
    pending = page.locator(f'.pending[data-step="{FIRST_STEP}"]')
    await expect(pending).to_be_visible()
    await expect(page.locator('.phase[data-phase="containment"]')).to_have_class(
        re.compile(r"\bphase-done\b")
    )
    await expect(page.locator('tr[data-step="revoke-caller-key"] .step-status')).to_have_text(
        "succeeded"
    )
    await expect(page.locator('tr[data-step="revoke-caller-key"]')).to_contain_text("local")
    await expect(page.locator('tr[data-step="collect-model-outputs"] .digest')).to_have_count(1)
    deadline = pending.locator("time[data-deadline]")
    await expect(deadline).to_contain_text(re.compile(r"in \d+m"))
    await expect(deadline).not_to_have_text(await deadline.text_content() or "")  # counts down
    await shoot(page, "2-waiting")
    await not_pwned(page)

    await pending.locator("textarea").fill("evidence reviewed")
    await pending.locator("button[value=approve]").click()
    await expect(page.locator(".flash.ok")).to_contain_text(f"approve on step {FIRST_STEP}")
    # The workflow carries on: the step runs, and the next one asks for a decision, shown by
    # the page's own polling.
    await expect(page.locator(f'tr[data-step="{FIRST_STEP}"] .step-status')).to_have_text(
        "succeeded"
    )
    second = page.locator(f'.pending[data-step="{SECOND_STEP}"]')
    await expect(second).to_be_visible()
    await shoot(page, "3-approved")

    await second.locator("button[value=reject]").click()
    await expect(page.locator(".flash.error")).to_have_text("a reason is required to reject.")
    second = page.locator(f'.pending[data-step="{SECOND_STEP}"]')
    await second.locator("textarea").fill("the tool stays off until the vendor patches it")
    await second.locator("button[value=reject]").click()
    await expect(page.locator(".flash.ok")).to_contain_text(f"reject on step {SECOND_STEP}")
    rejected = page.locator('#timeline li[data-type="StepRejected"]')
    await expect(rejected).to_contain_text("the tool stays off until the vendor patches it")
    await expect(page.locator(f'tr[data-step="{SECOND_STEP}"] .step-status')).to_have_text(
        "rejected"
    )
    await expect(page.locator('#timeline li[data-type="StepApproved"]')).to_contain_text("ann")
    await shoot(page, "4-rejected")

    await page.click("nav >> text=Approvals")
    await expect(page.locator("h1")).to_have_text("Waiting for you")
    await page.click("nav >> text=Metrics")
    await expect(page.locator("#containment svg rect").first).to_be_visible()
    await expect(page.locator("#containment")).to_contain_text("24 h: 1 incident(s)")
    await shoot(page, "5-metrics")
    await not_pwned(page)
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


async def test_auditor_reads_searches_and_cannot_decide(
    api: tuple[str, Tokens],
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    context: BrowserContext,
    shoot: Shooter,
) -> None:
    url, tokens = api
    incident = await open_prod_incident(dev_client, fb_settings, lab)
    await wait_for_pending(dev_client, incident, FIRST_STEP)  # what the auditor is to see
    page = await context.new_page()
    await sign_in(page, url, tokens.audrey)
    await page.goto(f"{url}/console/incidents/{incident}")
    await expect(page.locator(f'.pending[data-step="{FIRST_STEP}"]')).to_be_visible()
    assert await page.locator("form.decide, button[value=approve]").count() == 0
    await expect(page.locator(".pending .hint")).to_have_text("Your role cannot decide steps.")
    await expect(page.locator("nav")).not_to_contain_text("Approvals")
    await not_pwned(page)
    await shoot(page, "1-incident")

    csrf = await page.locator("header input[name=csrf_token]").get_attribute("value")
    forged = await page.request.post(
        f"{url}/console/incidents/{incident}/steps/{FIRST_STEP}/decisions",
        form={"csrf_token": csrf or "", "decision": "approve", "reason": "forged"},
        max_redirects=0,
    )
    assert forged.status == 403 and "lacks permission" in await forged.text()

    store = open_event_store(fb_settings)
    filler = [new_event("NotificationSent", Actor.system()) for _ in range(60)]
    store.append("filler", filler)

    await page.click("nav >> text=Audit")
    await expect(page.locator("#verification")).to_contain_text("Chain verified")
    await expect(page.locator("#checkpoint")).to_contain_text("No signed checkpoint yet")
    first = await page.locator("table.events tbody tr").count()
    assert first == 50
    await page.click("#next-page")
    await expect(page).to_have_url(re.compile(r"cursor=\d+"))
    later = await page.locator("table.events tbody tr").first.get_attribute("data-position")
    assert later is not None and int(later) == 51

    store.checkpoint()
    await page.goto(f"{url}/console/audit")
    await expect(page.locator("#checkpoint")).to_contain_text(f"position {store.head()[0]}")
    await expect(page.locator("#verification")).to_contain_text("1 checkpoint(s)")
    await page.fill("input[name=incident]", incident)
    await page.select_option("select[name=type]", "IncidentOpened")
    await page.click("form.filters button[type=submit]")
    rows = page.locator("table.events tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("IncidentOpened")
    await expect(rows.first).to_contain_text(HOSTILE_TITLE)  # in the payload column, as text
    await not_pwned(page)
    await shoot(page, "2-audit-search")

    href = await page.locator("#export").get_attribute("href")
    assert href is not None and "type=IncidentOpened" in href
    export = await page.request.get(url + href)
    assert export.headers["content-type"] == "application/x-ndjson"
    lines = (await export.text()).splitlines()
    assert len(lines) == 1 and incident in lines[0]

    await page.goto(f"{url}/console/audit?since=yesterday")
    await expect(page.locator(".flash.error")).to_contain_text("since: not a date and time")


async def test_alerts_show_as_the_sender_wrote_them_and_never_run(
    api: tuple[str, Tokens], context: BrowserContext, shoot: Shooter
) -> None:
    """Hostile text in every field of an Alertmanager delivery, posted through the webhook:
    the incident page shows each field as text, a `javascript:` link as text, and runs none."""
    url, tokens = api
    body = hostile_delivery("console-hostile", 2)
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        [incident] = (await post(http, tokens.source, body))["incidents"]
        await alerts_of(http, tokens.ann, incident)  # projected
    page = await context.new_page()
    await sign_in(page, url, tokens.ann)
    await page.goto(f"{url}/console/incidents/{incident}")
    group = page.locator('#alerts .alert-group[data-fingerprint="console-hostile"]')
    await expect(group.locator(".alert-title")).to_have_text(f"title {HOSTILE}")
    await expect(group.locator(".alert-description")).to_have_text(f"desc {HOSTILE}")
    await expect(group.locator(".alert-count")).to_have_text("2 alerts")
    await expect(group.locator(".alert-links")).to_contain_text("javascript:window.__pwned=3")
    assert await page.locator('a[href^="javascript"]').count() == 0
    await group.locator("details.alert-fields summary").first.click()
    # the `note` label, the `summary` and `description` annotations
    await expect(group.locator("details.alert-fields dd").filter(has_text=HOSTILE)).to_have_count(3)
    await shoot(page, "hostile-alerts")
    await not_pwned(page)
