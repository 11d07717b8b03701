"""Triage over HTTP and in the console, against the real stack: an alert no playbook fits waits
in triage, listed to the responders who may settle it, and a playbook assigned from the
console's form runs in the same incident."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.domain import Environment
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import submit_alert
from tests.console.conftest import hidden, http_sign_in
from tests.support.app import bearer
from tests.support.incidents import eventually, make_alert
from tests.support.principals import Tokens


async def test_triage_from_the_api_and_the_console(
    api: tuple[str, Tokens], dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    url, tokens = api
    alert = make_alert(lab, "high_token_rate", Environment.prod, source="detector-1")
    submitted = await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
    incident = submitted.incident_id
    decisions = f"/v1/incidents/{incident}/steps/triage/decisions"
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def waiting() -> list[dict[str, Any]]:
            r = await http.get(
                "/v1/approvals", params={"mine": "pending"}, headers=bearer(tokens.ann)
            )
            assert r.status_code == 200, r.text
            return [p for p in r.json()["items"] if p["incident_id"] == incident]

        [pending] = await eventually(waiting, timeout=60)
        assert (pending["step_id"], pending["reason"], pending["phase"]) == ("triage",) * 2 + (
            None,
        )

        async def as_ann(body: dict[str, str]) -> httpx.Response:
            return await http.post(decisions, json=body, headers=bearer(tokens.ann))

        no_playbook = await as_ann({"decision": "assign"})
        assert no_playbook.status_code == 422 and "playbook" in no_playbook.json()["detail"]
        no_reason = await as_ann({"decision": "close"})
        assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
        stray = await as_ann({"decision": "approve", "playbook": "api-key-abuse"})
        assert stray.status_code == 422
        wrong_kind = await as_ann({"decision": "approve"})
        assert wrong_kind.status_code == 409 and "triage" in wrong_kind.json()["detail"]
        auditor = await http.post(
            decisions,
            json={"decision": "assign", "playbook": "api-key-abuse"},
            headers=bearer(tokens.audrey),
        )
        assert auditor.status_code == 403

        csrf = await http_sign_in(http, tokens.ann)
        page = await http.get(f"/console/incidents/{incident}")
        assert page.status_code == 200
        assert "no playbook handles alert type" in page.text
        assert '<option value="api-key-abuse">' in page.text
        form_id = hidden(page.text, "form_id")
        done = await http.post(
            f"/console/incidents/{incident}/steps/triage/decisions",
            data={
                "csrf_token": csrf,
                "form_id": form_id,
                "decision": "assign",
                "playbook": "api-key-abuse",
                "reason": "the key leaked",
            },
        )
        assert done.status_code == 303, done.text

        async def resolved() -> dict[str, Any] | None:
            r = await http.get(f"/v1/incidents/{incident}", headers=bearer(tokens.ann))
            body: dict[str, Any] = r.json()
            return body if body["status"] == "closed" else None

        detail = await eventually(resolved, timeout=60)
    assert detail["outcome"] == "resolved" and detail["playbook"] == "api-key-abuse"
    assert detail["pending"] == []
