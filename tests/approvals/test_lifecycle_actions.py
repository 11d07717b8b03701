"""Acknowledge, resolve and close over HTTP, against the real stack (uvicorn, a worker on the
Temporal dev server, SQLite): the same role and scope rules as step decisions, bad input as a
422 with its reason, and every transition in the incident's timeline and projection."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.domain import Environment
from orchestrator.settings import Settings
from tests.support.app import bearer
from tests.support.incidents import eventually, lab_settings
from tests.support.principals import Tokens
from tests.support.stack import open_incident

HOSTILE = "<script>alert(1)</script>\x1b[31m; DROP TABLE incidents; --"


@pytest.fixture
def fb_settings(lab: LabInfo) -> Settings:
    """A quiet period long enough that a resolved incident stays resolved during the test."""
    return lab_settings(lab, incident_quiet_seconds=3600)


async def test_acknowledge_resolve_close_over_http(
    api: tuple[str, Tokens], dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    url, tokens = api
    incident = await open_incident(dev_client, fb_settings, lab, Environment.prod)
    base = f"/v1/incidents/{incident}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def detail(status: str | None = None) -> dict[str, Any] | None:
            r = await http.get(base, headers=bearer(tokens.ann))
            body: dict[str, Any] = r.json()
            return body if r.status_code == 200 and status in (None, body["status"]) else None

        async def waiting() -> list[dict[str, Any]]:
            r = await http.get("/v1/approvals", headers=bearer(tokens.ann))
            return [p for p in r.json()["items"] if p["incident_id"] == incident]

        [pending] = await eventually(waiting, timeout=60)
        assert pending["incident_sla"]["leg"] == "acknowledge", "high: acknowledge due first"
        shown = await eventually(lambda: detail("contained"), timeout=30)
        assert shown["sla"]["acknowledge_seconds"] == 900 and shown["sla_next"] is not None

        auditor = await http.post(f"{base}/acknowledge", json={}, headers=bearer(tokens.audrey))
        assert auditor.status_code == 403
        out_of_scope = await http.post(f"{base}/acknowledge", json={}, headers=bearer(tokens.devon))
        assert out_of_scope.status_code == 403 and "prod" in out_of_scope.json()["detail"]
        bad_id = await http.post(
            f"{base}/acknowledge", json={"decision_id": "a b"}, headers=bearer(tokens.ann)
        )
        assert bad_id.status_code == 422
        acked = await http.post(
            f"{base}/acknowledge", json={"decision_id": "ann-ack"}, headers=bearer(tokens.ann)
        )
        assert acked.status_code == 200, acked.text
        assert acked.json()["incident_status"] == "contained"
        followed = await http.get(
            f"{base}/steps/incident/decisions/ann-ack", headers=bearer(tokens.ann)
        )
        assert followed.status_code == 200 and followed.json()["kind"] == "acknowledge"
        twice = await http.post(f"{base}/acknowledge", json={}, headers=bearer(tokens.ben))
        assert twice.status_code == 409 and "already acknowledged by ann" in twice.json()["detail"]

        no_reason = await http.post(f"{base}/resolve", json={}, headers=bearer(tokens.ben))
        assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
        early = await http.post(f"{base}/close", json={"reason": "x"}, headers=bearer(tokens.ben))
        assert early.status_code == 409 and "resolve it before" in early.json()["detail"]
        resolved = await http.post(
            f"{base}/resolve", json={"reason": HOSTILE}, headers=bearer(tokens.ben)
        )
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["incident_status"] == "resolved"
        after = await eventually(lambda: detail("resolved"), timeout=30)
        assert after["acknowledged_by"] == "ann" and after["pending"] == []
        assert after["time_to_resolve_seconds"] is not None
        assert await waiting() == []

        closed = await http.post(
            f"{base}/close", json={"reason": "post-mortem filed"}, headers=bearer(tokens.ann)
        )
        assert closed.status_code == 200, closed.text
        final = await eventually(lambda: detail("closed"), timeout=30)
        assert final["outcome"] == "resolved" and final["sla_next"] is None
        late = await http.post(f"{base}/acknowledge", json={}, headers=bearer(tokens.ann))
        assert late.status_code == 409 and "closed" in late.json()["detail"]

        timeline = (await http.get(f"{base}/timeline", headers=bearer(tokens.audrey))).json()
    by_type = {e["type"]: e for e in timeline["items"]}
    assert by_type["IncidentAcknowledged"]["actor"]["id"] == "ann"
    assert by_type["IncidentResolved"]["actor"]["id"] == "ben"
    assert by_type["IncidentResolved"]["payload"]["reason"] == HOSTILE, "kept as data"
    assert by_type["IncidentClosed"]["actor"]["id"] == "ann"
    skipped = [e["payload"]["step_id"] for e in timeline["items"] if e["type"] == "StepSkipped"]
    assert pending["step_id"] in skipped
