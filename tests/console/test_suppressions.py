"""The console's suppression page over plain HTTP against the real app (uvicorn, Temporal dev
server, SQLite store): a responder creates and ends a window through the forms (CSRF as every
form), hostile text shows as text, a refused window says why, an auditor only reads."""

from __future__ import annotations

import httpx
from playwright.async_api import BrowserContext, expect

from orchestrator.audit import open_event_store
from orchestrator.settings import Settings
from tests.console.conftest import Shooter, http_sign_in, sign_in
from tests.support.app import bearer
from tests.support.principals import Tokens

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def test_a_responder_creates_and_ends_a_window_from_the_console(
    api_alone: tuple[str, Tokens], fb_settings: Settings
) -> None:
    url, tokens = api_alone
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        csrf = await http_sign_in(http, tokens.ann)
        empty = await http.get("/console/suppressions")
        assert empty.status_code == 200
        assert "No window is in force." in empty.text and "Create window" in empty.text

        form = {
            "csrf_token": csrf,
            "match": "labels.alertname=NodeDown\r\nlabels.instance=~db-.*\r\n",
            "until": "2h",
            "environments": "prod",
            "reason": HOSTILE,
        }
        refused = await http.post("/console/suppressions", data=form | {"csrf_token": ""})
        assert refused.status_code == 403
        created = await http.post("/console/suppressions", data=form)
        assert created.status_code == 303, created.text
        window_id = created.headers["location"].split("created=")[1]

        api = await http.get(f"/v1/suppressions/{window_id}", headers=bearer(tokens.ann))
        window = api.json()
        assert window["environments"] == ["prod"] and window["reason"] == HOSTILE
        assert window["match"] == {
            "labels.alertname": {"equals": "NodeDown"},
            "labels.instance": {"regex": "db-.*"},
        }
        page = (await http.get(f"/console/suppressions?created={window_id}")).text
        assert f'data-window="{window_id}"' in page
        assert "labels.alertname=NodeDown,labels.instance=~db-.*" in page
        assert HOSTILE not in page and "&lt;script&gt;" in page

        too_long = await http.post("/console/suppressions", data=form | {"until": "45d"})
        assert too_long.status_code == 422
        assert "more than 30 days from now" in too_long.text
        assert "&lt;img src=x" in too_long.text  # the form keeps what was typed, escaped
        bad_field = await http.post(
            "/console/suppressions", data=form | {"match": "alertname=NodeDown"}
        )
        assert bad_field.status_code == 422
        assert "unknown field &#39;alertname&#39;" in bad_field.text

        ended = await http.post(
            f"/console/suppressions/{window_id}/end",
            data={"csrf_token": csrf, "reason": "change done"},
        )
        assert ended.status_code == 303, ended.text
        after = (await http.get(ended.headers["location"])).text
        assert f'data-window="{window_id}"' not in after and "No window is in force." in after

    events = open_event_store(fb_settings).read_stream(f"suppression-{window_id}")
    assert [e.type for e in events] == ["SuppressionCreated", "SuppressionEnded"]
    assert events[1].payload["reason"] == "change done"
    assert events[1].payload["principal"] == "ann"


async def test_an_auditor_sees_windows_but_no_forms(api_alone: tuple[str, Tokens]) -> None:
    url, tokens = api_alone
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        body = {"match": {"labels.job": "batch"}, "reason": "nightly reindex", "duration": "1h"}
        made = await http.post("/v1/suppressions", json=body, headers=bearer(tokens.ben))
        assert made.status_code == 201, made.text
        await http_sign_in(http, tokens.audrey)
        page = await http.get("/console/suppressions")
        assert page.status_code == 200
        assert "nightly reindex" in page.text and "labels.job=batch" in page.text
        assert "Create window" not in page.text and ">End</button>" not in page.text


async def test_the_page_in_a_browser(
    api_alone: tuple[str, Tokens], context: BrowserContext, shoot: Shooter
) -> None:
    """Debian Chromium: the nav link, the create form, hostile text as text, End."""
    url, tokens = api_alone
    page = await context.new_page()
    await sign_in(page, url, tokens.ann)
    await page.click("header nav >> text=Suppressions")
    await expect(page.locator("h1")).to_have_text("Suppression windows")
    await page.fill("#match", "labels.alertname=NodeDown\nlabels.instance=~db-.*")
    await page.fill("#until", "90m")
    await page.check("input[name=environments][value=prod]")
    await page.fill("#reason", '<img src=x onerror="window.__pwned = 1">maintenance')
    async with page.expect_navigation():
        await page.click("form.suppress button[type=submit]")
    row = page.locator("tr[data-window]")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("labels.alertname=NodeDown,labels.instance=~db-.*")
    await expect(row).to_contain_text('<img src=x onerror="window.__pwned = 1">maintenance')
    await expect(row).to_contain_text("active")
    assert await page.evaluate("() => window.__pwned === undefined"), "window text executed"
    await shoot(page, "window-active")

    await row.locator("input[name=reason]").fill("done")
    async with page.expect_navigation():
        await row.locator("button").click()
    await expect(page.locator("tr[data-window]")).to_have_count(0)
    await expect(page.locator("td.empty")).to_have_text("No window is in force.")
