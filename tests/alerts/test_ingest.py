"""Each format's fixtures open the right incidents, durably and idempotently."""

from __future__ import annotations

import asyncio
import json

import httpx
import sqlalchemy as sa
from temporalio.client import Client, WorkflowExecutionStatus

from orchestrator.alerts.ids import alert_stream
from orchestrator.audit import EventStore
from orchestrator.domain import Alert
from tests.support.app import alerts_recorded, fixture_bytes, fixture_json, post_alert
from tests.support.principals import Tokens


async def assert_running(temporal: Client, incident_ids: list[str]) -> None:
    for incident_id in incident_ids:
        workflow_id, _, run_id = incident_id.rpartition(".")
        described = await temporal.get_workflow_handle(workflow_id, run_id=run_id).describe()
        assert described.status is WorkflowExecutionStatus.RUNNING


async def accepted(
    http: httpx.AsyncClient,
    fmt: str,
    fixture: str,
    token: str,
    content_type: str = "application/json",
    **headers: str,
) -> httpx.Response:
    """A fixture posted as a `fmt` alert, answered 202."""
    response = await post_alert(http, fmt, fixture_bytes(fixture), token, content_type, **headers)
    assert response.status_code == 202, response.text
    return response


def received(store: EventStore, source: str, alert_id: str) -> Alert:
    events = store.read_stream(alert_stream(source, alert_id))
    assert [e.type for e in events] == ["AlertReceived"]
    return Alert.model_validate(events[0].payload["alert"])


async def test_generic_alert_is_recorded_encrypted_and_opens_an_incident(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore, temporal: Client
) -> None:
    response = await accepted(http, "generic", "generic.json", tokens.source)
    body = response.json()
    assert len(body["incidents"]) == 1
    assert body["alerts"][0]["duplicate"] is False
    await assert_running(temporal, body["incidents"])

    alert = received(store, "detector", "guard-7f3a9c21")
    assert (alert.type, alert.severity, alert.environment) == (
        "prompt_injection",
        "critical",
        "prod",
    )
    assert (
        alert.resources.model == "fraud-detector" and alert.resources.api_key == "key-support-bot"
    )
    assert body["incidents"][0].startswith(alert.workflow_id + ".")
    raw_event = store.read_stream(alert_stream("detector", alert.id))[0]
    assert "Ignore all previous instructions" in raw_event.payload["raw"]
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT payload FROM audit_events")).scalars().all()
    assert not any("Ignore all previous" in text for text in stored), "raw body stored in clear"


async def test_alertmanager_group_splits_by_fingerprint_and_resolves(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore, temporal: Client
) -> None:
    firing = await accepted(http, "alertmanager", "alertmanager_firing.json", tokens.source)
    incidents = firing.json()["incidents"]
    assert len(incidents) == 2  # two instances of one condition share an incident
    alerts = firing.json()["alerts"]
    assert alerts[0]["incident_id"] == alerts[2]["incident_id"] != alerts[1]["incident_id"]
    await assert_running(temporal, incidents)

    toxic = received(store, "detector", alerts[0]["alert_id"])
    assert (toxic.type, toxic.environment, toxic.severity) == (
        "data_poisoning",
        "prod",
        "critical",
    )
    assert (toxic.resources.model, toxic.resources.model_version) == ("fraud-detector", "2")
    assert toxic.fingerprint == "a1b2c3d4e5f60718"
    leak = received(store, "detector", alerts[1]["alert_id"])
    assert (leak.type, leak.environment, leak.severity) == ("api_key_abuse", "staging", "medium")
    assert leak.resources.api_key == "key-analytics"

    resolved = await accepted(http, "alertmanager", "alertmanager_resolved.json", tokens.source)
    assert resolved.json()["incidents"] == [alerts[0]["incident_id"]]
    assert resolved.json()["alerts"][0]["status"] == "resolved"


async def test_cloudevents_structured_binary_and_batch(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore, temporal: Client
) -> None:
    structured = await accepted(
        http,
        "cloudevents",
        "cloudevents_structured.json",
        tokens.source,
        "application/cloudevents+json; charset=utf-8",
    )
    jailbreak = received(
        store, "detector", "//guardrails.example.com/llm-firewall/eu-1/b3e1c2d4-0001"
    )
    assert (jailbreak.type, jailbreak.severity) == ("agent_tool_compromise", "high")
    assert (jailbreak.resources.agent, jailbreak.resources.tool) == (
        "travel-planner",
        "transfer_funds",
    )
    assert jailbreak.labels["confidence"] == "0.97"

    binary = await accepted(
        http,
        "cloudevents",
        "cloudevents_binary_data.json",
        tokens.source,
        **{
            "ce-specversion": "1.0",
            "ce-id": "drift-77",
            "ce-source": "//drift.example.com",
            "ce-type": "com.example.drift.data_poisoning",
        },
    )
    drift = received(store, "detector", "//drift.example.com/drift-77")
    assert (drift.type, drift.environment, drift.resources.dataset) == (
        "data_poisoning",
        "staging",
        "support-tickets",
    )

    batch = await accepted(
        http,
        "cloudevents",
        "cloudevents_batch.json",
        tokens.source,
        "application/cloudevents-batch+json",
    )
    assert len(batch.json()["alerts"]) == 2 and len(batch.json()["incidents"]) == 1
    await assert_running(
        temporal,
        structured.json()["incidents"] + binary.json()["incidents"] + batch.json()["incidents"],
    )


async def test_pagerduty_trigger_acknowledge_resolve(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore, temporal: Client
) -> None:
    trigger = await accepted(http, "pagerduty", "pagerduty_trigger.json", tokens.source)
    [incident] = trigger.json()["incidents"]
    alert = received(store, "detector", "litellm-key-abuse-7781")
    assert (alert.type, alert.severity, alert.environment) == ("api_key_abuse", "high", "prod")
    assert alert.resources.api_key == "key-7781"

    ack = await accepted(http, "pagerduty", "pagerduty_acknowledge.json", tokens.source)
    assert ack.json()["incidents"] == [incident]
    resolve = await accepted(http, "pagerduty", "pagerduty_resolve.json", tokens.source)
    assert resolve.json()["incidents"] == [incident]
    resolved = received(store, "detector", "litellm-key-abuse-7781:resolve")
    assert (resolved.status, resolved.type, resolved.fingerprint) == (
        "resolved",
        "api_key_abuse",
        "litellm-key-abuse-7781",
    )

    orphan = fixture_json("pagerduty_resolve.json") | {"dedup_key": "never-triggered"}
    refused = await post_alert(http, "pagerduty", json.dumps(orphan).encode(), tokens.source)
    assert refused.status_code == 422
    assert refused.json()["field"] == "dedup_key"


async def test_retried_delivery_returns_the_same_incident_and_records_once(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore
) -> None:
    body = fixture_bytes("generic.json")
    first = await post_alert(http, "generic", body, tokens.source, **{"webhook-id": "msg_1"})
    again = await post_alert(http, "generic", body, tokens.source, **{"webhook-id": "msg_1"})
    other_delivery = await post_alert(
        http, "generic", body, tokens.source, **{"webhook-id": "msg_2"}
    )
    assert first.status_code == again.status_code == other_delivery.status_code == 202
    assert first.json() == again.json()
    assert other_delivery.json()["incidents"] == first.json()["incidents"]
    assert other_delivery.json()["alerts"][0]["duplicate"] is True
    assert len(store.read_stream(alert_stream("detector", "guard-7f3a9c21"))) == 1

    changed = body.replace(b"critical", b"low")
    replay = await post_alert(http, "generic", changed, tokens.source, **{"webhook-id": "msg_1"})
    assert replay.status_code == 409


async def test_storm_with_one_fingerprint_lands_in_one_incident(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore
) -> None:
    base = fixture_json("generic.json")

    async def one(i: int) -> httpx.Response:
        body = json.dumps(base | {"id": f"storm-{i}"}).encode()
        return await post_alert(http, "generic", body, tokens.source)

    responses = await asyncio.gather(*(one(i) for i in range(40)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["incidents"][0] for r in responses}) == 1
    assert alerts_recorded(store) == 40


async def test_source_may_only_send_alerts_for_its_environments(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore
) -> None:
    response = await post_alert(http, "generic", fixture_bytes("generic.json"), tokens.source_dev)
    assert response.status_code == 403
    assert alerts_recorded(store) == 0
