"""With a user routes file of a few lines, through the real API and worker: the alerts of real
senders open the incidents of the playbooks their routes name, and the playbook acts on the
resources the route found in the sender's own labels."""

from __future__ import annotations

import uuid

import httpx
import pytest
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.alerts.ids import alert_stream
from orchestrator.audit import open_event_store
from orchestrator.domain import TRIAGE_STEP
from orchestrator.routing.service import load_table
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import describe
from tests.routing.conftest import post
from tests.routing.test_service import USER_ROUTES, fixture
from tests.support.app import bearer
from tests.support.incidents import eventually, wait_for_pending
from tests.support.principals import Tokens
from tests.workflows.test_triage import key_is_revoked


@pytest.fixture
def fb_settings(fb_settings: Settings) -> Settings:
    """The suite's settings, with the user routes of tests/fixtures/routing/."""
    return fb_settings.model_copy(update={"routes_file": USER_ROUTES})


async def test_prometheus_alerts_open_the_playbooks_their_routes_name(
    served: tuple[httpx.AsyncClient, Tokens],
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
) -> None:
    http, tokens = served
    delivery = fixture("prometheus_alertmanager.json")
    spend_alert = delivery["alerts"][1]
    spend_alert["labels"]["api_key_id"] = lab.ingest_key  # a key the lab's gateway knows
    spend_alert["fingerprint"] = uuid.uuid4().hex[:16]
    answer = await post(http, tokens.source, "alertmanager", delivery)
    injection, spend = answer["alerts"]

    async def spend_contained() -> bool:
        return await key_is_revoked(lab)

    await eventually(spend_contained, timeout=60)
    state = await describe(dev_client, spend["incident_id"])
    assert (state.type, state.environment, state.playbook) == (
        "api_key_abuse",
        "staging",
        "api-key-abuse",
    )
    store = open_event_store(fb_settings)
    [received] = store.read_stream(alert_stream("detector", spend["alert_id"]))
    assert received.payload["route"] == "token-spend"
    assert received.payload["route_hash"] == load_table(USER_ROUTES).content_hash

    # The injection route names the type; the prompt-injection playbook also needs the agent
    # and tool this sender does not label, so the incident waits in triage naming the field.
    waiting = await wait_for_pending(dev_client, injection["incident_id"], TRIAGE_STEP, timeout=60)
    assert waiting.type == "prompt_injection" and waiting.triage is not None
    assert "'alert.resources.agent' is empty" in waiting.triage.reason


async def test_a_guardrail_cloudevent_routes_to_its_incident(
    served: tuple[httpx.AsyncClient, Tokens], dev_client: Client
) -> None:
    http, tokens = served
    event = fixture("cloudevents_llm_guard.json") | {"id": uuid.uuid4().hex}
    answer = await post(http, tokens.source, "cloudevents", event)
    [incident] = answer["incidents"]

    async def opened() -> bool:
        state = await describe(dev_client, incident)
        return state.playbook == "prompt-injection"

    await eventually(opened, timeout=60)
    state = await describe(dev_client, incident)
    assert (state.type, state.severity, state.environment) == ("prompt_injection", "high", "prod")


async def test_grafana_and_pagerduty_deliveries_route_to_their_incidents(
    served: tuple[httpx.AsyncClient, Tokens], dev_client: Client
) -> None:
    http, tokens = served
    grafana = fixture("grafana_alerting.json")
    grafana["alerts"][0]["fingerprint"] = uuid.uuid4().hex[:16]
    litellm = fixture("pagerduty_litellm.json") | {"dedup_key": uuid.uuid4().hex}
    expected = {
        "alertmanager": ("data_poisoning", "medium", "staging"),
        "pagerduty": ("api_key_abuse", "critical", "prod"),
    }
    for fmt, body in (("alertmanager", grafana), ("pagerduty", litellm)):
        [incident] = (await post(http, tokens.source, fmt, body))["incidents"]
        state = await describe(dev_client, incident)
        assert (state.type, state.severity, state.environment) == expected[fmt]
        if fmt == "alertmanager":
            drift = incident

    # As people read it: Grafana's own links and its local start time, in UTC.
    async def projected() -> httpx.Response | None:
        page = await http.get(
            f"/v1/incidents/{drift}/alerts", headers=bearer(tokens.audrey)
        )  # staging
        return page if page.status_code == 200 else None

    page = (await eventually(projected, timeout=60)).json()
    latest = page["groups"][0]["latest"]
    assert [link["text"] for link in latest["links"]] == ["source", "dashboard", "panel", "silence"]
    assert latest["started_at"] == "2026-11-25T05:44:00Z"
    assert latest["annotations"]["description"].startswith("Population stability index")
