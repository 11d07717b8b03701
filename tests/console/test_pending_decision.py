"""The console's decision form while no worker runs: the page says the decision is accepted
but not yet applied, and says it was recorded once a worker has applied it (real app under
uvicorn, Temporal dev server, a worker stopped and started again)."""

from __future__ import annotations

import time

import httpx
from temporalio.client import Client

from orchestrator.settings import Settings
from tests.console.conftest import hidden, http_sign_in
from tests.support.incidents import eventually, running_worker
from tests.support.principals import Tokens


async def test_a_console_decision_without_a_worker_shows_as_pending(
    api_alone: tuple[str, Tokens],
    step_without_worker: tuple[str, str],
    dev_client: Client,
    fb_settings: Settings,
) -> None:
    url, tokens = api_alone
    incident, step = step_without_worker
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        csrf = await http_sign_in(http, tokens.ann)
        page = await http.get(f"/console/incidents/{incident}")
        form = {"csrf_token": csrf, "form_id": hidden(page.text, "form_id"), "decision": "approve"}
        started = time.monotonic()
        posted = await http.post(f"/console/incidents/{incident}/steps/{step}/decisions", data=form)
        assert posted.status_code == 303, posted.text
        target = posted.headers["location"]
        assert "pending=console-" in target
        shown = await http.get(target)
        assert time.monotonic() - started < 10 + 5  # the POST's 10 s, then one page
        assert shown.status_code == 200
        assert 'id="decision-pending"' in shown.text
        assert "Accepted, not yet applied" in shown.text and "Recorded:" not in shown.text

        async with running_worker(dev_client, fb_settings):

            async def recorded() -> bool:
                again = await http.get(target)
                return "Recorded: approve" in again.text and "decision-pending" not in again.text

            await eventually(recorded, timeout=60)
