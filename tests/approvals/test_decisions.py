"""A responder's decisions over HTTP reach the workflow, against the real stack: uvicorn, the
incident workflow on a Temporal dev server with a real worker, and the SQLite event store."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.domain import Environment
from orchestrator.settings import Settings
from tests.support.app import bearer
from tests.support.incidents import eventually
from tests.support.principals import Tokens
from tests.support.stack import open_incident

PROBLEM = "application/problem+json"


async def test_decision_over_http_reaches_the_workflow(
    api: tuple[str, Tokens], dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    """Works through whatever the prompt-injection playbook asks people in prod: the first
    waiting step gets the error paths and ann's approval, the rest are approved by ben."""
    url, tokens = api
    incident = await open_incident(dev_client, fb_settings, lab, Environment.prod)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def waiting_for(token: str) -> list[dict[str, Any]]:
            r = await http.get("/v1/approvals", params={"mine": "pending"}, headers=bearer(token))
            assert r.status_code == 200, r.text
            return [p for p in r.json()["items"] if p["incident_id"] == incident]

        [pending] = await eventually(lambda: waiting_for(tokens.ann), timeout=60)
        step = pending["step_id"]
        assert pending["reason"] == "approval" and pending["approvals_required"] == 1
        assert pending["deadline"] is not None
        assert await waiting_for(tokens.devon) == []

        detail = await http.get(f"/v1/incidents/{incident}", headers=bearer(tokens.ann))
        assert detail.status_code == 200, detail.text
        body = detail.json()
        assert body["status"] == "contained" and body["pending_count"] == 1
        assert body["phases"]["containment"]["completed_at"] is not None
        assert body["time_to_contain_seconds"] is not None
        assert body["live"]["current_step"] == step
        hidden = await http.get(f"/v1/incidents/{incident}", headers=bearer(tokens.devon))
        assert hidden.status_code == 404 and hidden.headers["content-type"] == PROBLEM

        decisions = f"/v1/incidents/{incident}/steps/{step}/decisions"
        no_reason = await http.post(
            decisions, json={"decision": "reject"}, headers=bearer(tokens.ann)
        )
        assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
        auditor = await http.post(
            decisions, json={"decision": "approve"}, headers=bearer(tokens.audrey)
        )
        assert auditor.status_code == 403
        out_of_scope = await http.post(
            decisions, json={"decision": "approve"}, headers=bearer(tokens.devon)
        )
        assert out_of_scope.status_code == 403
        assert "prod" in out_of_scope.json()["detail"]
        unknown = await http.post(
            f"/v1/incidents/{incident}/steps/no-such-step/decisions",
            json={"decision": "approve"},
            headers=bearer(tokens.ann),
        )
        assert unknown.status_code in (403, 409), unknown.text

        approved = await http.post(
            decisions,
            json={"decision": "approve", "reason": "evidence reviewed"},
            headers=bearer(tokens.ann),
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["approved_by"] == ["ann"]
        again = await http.post(decisions, json={"decision": "approve"}, headers=bearer(tokens.ben))
        assert again.status_code in (403, 409), again.text

        async def closed_or_next() -> dict[str, Any] | None:
            r = (await http.get(f"/v1/incidents/{incident}", headers=bearer(tokens.ben))).json()
            if r["status"] == "closed":
                return r
            for later in await waiting_for(tokens.ben):
                if later["step_id"] != step:
                    await http.post(
                        f"/v1/incidents/{incident}/steps/{later['step_id']}/decisions",
                        json={"decision": "approve", "decision_id": f"ben-{later['step_id']}"},
                        headers=bearer(tokens.ben),
                    )
            return None

        final = await eventually(closed_or_next, timeout=90)
        assert final["outcome"] == "resolved" and final["pending"] == [] and final["live"] is None
        timeline = (
            await http.get(f"/v1/incidents/{incident}/timeline", headers=bearer(tokens.ben))
        ).json()
        kinds = [(e["type"], e["payload"].get("step_id")) for e in timeline["items"]]
        approved_at = kinds.index(("StepApproved", step))
        assert ("StepSucceeded", step) in kinds[approved_at:]
        assert timeline["items"][approved_at]["actor"]["id"] == "ann"

        listed = await http.get(
            "/v1/incidents", params={"status": "closed"}, headers=bearer(tokens.ann)
        )
        assert incident in [i["id"] for i in listed.json()["items"]]
        scoped = await http.get("/v1/incidents", headers=bearer(tokens.devon))
        assert incident not in [i["id"] for i in scoped.json()["items"]]
        closed_out_of_scope = await http.post(
            decisions, json={"decision": "approve"}, headers=bearer(tokens.devon)
        )
        assert closed_out_of_scope.status_code == 403, closed_out_of_scope.text
        assert "closed" not in closed_out_of_scope.json()["detail"]
        closed_in_scope = await http.post(
            decisions, json={"decision": "approve"}, headers=bearer(tokens.ann)
        )
        assert closed_in_scope.status_code == 409 and "closed" in closed_in_scope.json()["detail"]
        anonymous = await http.get("/v1/incidents")
        assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
