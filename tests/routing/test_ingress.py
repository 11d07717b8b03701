"""With the built-in routes only, through the real API and worker: an Alertmanager delivery
as Prometheus rules produce it (no Firebreak label) is routed by the label conventions, its
unknown alertname waits in triage instead of closing, and a storm of 2,000 distinct firings
of one fingerprint is one incident."""

from __future__ import annotations

import copy
from typing import Any

import httpx
from temporalio.client import Client

from orchestrator.alerts.ids import alert_stream
from orchestrator.audit import open_event_store
from orchestrator.domain import TRIAGE_STEP
from orchestrator.routing.service import load_table
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import describe
from tests.routing.conftest import post
from tests.routing.test_service import fixture
from tests.support.app import alerts_recorded, bearer, fixture_bytes
from tests.support.incidents import audit_stream, eventually, payloads, wait_for_pending
from tests.support.principals import Tokens

STORM = 2000
PER_DELIVERY = 250  # Alertmanager's max_alerts is unlimited; 250 stay under the body cap


async def test_an_unknown_alertname_waits_in_triage_and_records_its_route(
    served: tuple[httpx.AsyncClient, Tokens], dev_client: Client, fb_settings: Settings
) -> None:
    http, tokens = served
    answer = await post(
        http, tokens.source, "alertmanager", fixture("prometheus_alertmanager.json")
    )
    injection, spend = answer["alerts"]
    state = await wait_for_pending(dev_client, injection["incident_id"], TRIAGE_STEP, timeout=60)
    assert (state.type, state.severity, state.environment) == (
        "guardrailinjectionblockshigh",
        "critical",
        "prod",
    )
    assert state.triage is not None
    assert "no playbook handles alert type 'guardrailinjectionblockshigh'" in state.triage.reason
    events = audit_stream(fb_settings, injection["incident_id"])
    [notified] = payloads(events, "NotificationSent")
    assert notified["kind"] == "triage"
    [opened] = payloads(events, "IncidentOpened")
    assert (opened["route"], opened["route_hash"]) == ("default", load_table(None).content_hash)
    other = await wait_for_pending(dev_client, spend["incident_id"], TRIAGE_STEP, timeout=60)
    assert (other.type, other.environment) == ("tokenspendanomaly", "staging")

    store = open_event_store(fb_settings)
    [received] = store.read_stream(alert_stream("detector", injection["alert_id"]))
    assert received.payload["route"] == "default"
    assert received.payload["route_hash"] == load_table(None).content_hash
    assert received.payload["alert"]["route"] == "default"


def storm_deliveries() -> list[dict[str, Any]]:
    """2,000 firings of one alert (one fingerprint, each its own `startsAt`), in deliveries
    of 250 as Alertmanager sends a large group."""
    template = fixture("prometheus_alertmanager.json")
    firing = template["alerts"][0]
    alerts = [
        copy.deepcopy(firing)
        | {"startsAt": f"2026-11-25T{6 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"}
        for i in range(STORM)
    ]
    for alert in alerts:
        del alert["annotations"]["description"]  # keep 250 under the body cap
    return [
        template | {"alerts": alerts[start : start + PER_DELIVERY]}
        for start in range(0, STORM, PER_DELIVERY)
    ]


async def test_a_storm_of_distinct_firings_of_one_fingerprint_is_one_incident(
    served: tuple[httpx.AsyncClient, Tokens], dev_client: Client, fb_settings: Settings
) -> None:
    http, tokens = served
    incidents: set[str] = set()
    alert_ids: set[str] = set()
    for delivery in storm_deliveries():
        answer = await post(http, tokens.source, "alertmanager", delivery)
        incidents.update(answer["incidents"])
        alert_ids.update(a["alert_id"] for a in answer["alerts"])
    assert len(alert_ids) == STORM, "distinct alerts, not retries"
    [incident] = incidents
    assert alerts_recorded(open_event_store(fb_settings)) == STORM

    async def all_attached() -> bool:
        return (await describe(dev_client, incident)).alert_count == STORM

    await eventually(all_attached, timeout=120)
    state = await describe(dev_client, incident)
    assert [p.step_id for p in state.pending] == [TRIAGE_STEP], "waits in triage, not closed"

    # As people read it: one group of 2,000, not 2,000 rows.
    page = (
        await http.get(f"/v1/incidents/{incident}/alerts", headers=bearer(tokens.responder))
    ).json()
    assert (page["total"], len(page["groups"]), page["next_cursor"]) == (STORM, 1, None)
    [group] = page["groups"]
    assert group["count"] == STORM
    assert group["latest"]["title"] == storm_deliveries()[0]["alerts"][0]["annotations"]["summary"]


async def test_otlp_findings_route_by_the_owasp_defaults_and_the_unknown_wait_in_triage(
    served: tuple[httpx.AsyncClient, Tokens], dev_client: Client, fb_settings: Settings
) -> None:
    """A collector's export of an `apply_guardrail` span with two findings: the excessive
    agency one is an agent-tool-compromise incident; `toxicity`, which no playbook handles,
    waits in triage and notifies."""
    http, tokens = served
    response = await http.post(
        "/v1/alerts/otlp/v1/traces",
        content=fixture_bytes("otlp_traces.json"),
        headers={**bearer(tokens.source), "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    agency, toxicity = response.json()["alerts"]

    # Typed by the category; the agent-tool playbook also needs the caller's key, which the
    # conventions do not name, so it waits in triage naming the field (a route can name it).
    state = await wait_for_pending(dev_client, agency["incident_id"], TRIAGE_STEP, timeout=60)
    assert (state.type, state.severity, state.environment) == (
        "agent_tool_compromise",
        "critical",
        "staging",
    )
    assert state.triage is not None
    assert "'alert.resources.api_key' is empty" in state.triage.reason
    waiting = await wait_for_pending(dev_client, toxicity["incident_id"], TRIAGE_STEP, timeout=60)
    assert (waiting.type, waiting.severity) == ("toxicity", "low")
    assert waiting.triage is not None
    assert "no playbook handles alert type 'toxicity'" in waiting.triage.reason
    events = audit_stream(fb_settings, toxicity["incident_id"])
    [notified] = payloads(events, "NotificationSent")
    assert notified["kind"] == "triage"
    [opened] = payloads(events, "IncidentOpened")
    assert opened["route"] == "otel-genai-security"
