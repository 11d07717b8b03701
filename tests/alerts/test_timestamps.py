"""A sender's timestamps are dates or a 422 naming the field: a `startsAt` of `soon` is not
silently taken as "now". Real senders' forms (Alertmanager's nanoseconds and zero `endsAt`,
PagerDuty's `+0000`) are accepted and kept as the alert's start."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from orchestrator.alerts.ids import alert_stream
from orchestrator.audit import EventStore
from orchestrator.domain import Alert
from tests.support.app import fixture_json, post_alert
from tests.support.principals import Tokens


def alertmanager(**fields: str) -> dict[str, Any]:
    body = fixture_json("alertmanager_firing.json")
    body["alerts"] = body["alerts"][:1]
    body["alerts"][0].update(fields)
    return body


def pagerduty(timestamp: str) -> dict[str, Any]:
    body = fixture_json("pagerduty_trigger.json")
    body["payload"]["timestamp"] = timestamp
    return body


def cloudevent(time: str) -> dict[str, Any]:
    return fixture_json("cloudevents_structured.json") | {"time": time}


BAD = [
    ("alertmanager", alertmanager(startsAt="soon"), "application/json", "alerts.0.startsAt"),
    (
        "alertmanager",
        alertmanager(endsAt="2026-13-01T00:00:00Z"),
        "application/json",
        "alerts.0.endsAt",
    ),
    ("pagerduty", pagerduty("last tuesday"), "application/json", "payload.timestamp"),
    ("cloudevents", cloudevent("<script>"), "application/cloudevents+json", "time"),
]


@pytest.mark.parametrize(("fmt", "body", "content_type", "field"), BAD)
async def test_a_timestamp_that_is_not_a_date_is_a_422_naming_the_field(
    http: httpx.AsyncClient,
    tokens: Tokens,
    store: EventStore,
    fmt: str,
    body: dict[str, Any],
    content_type: str,
    field: str,
) -> None:
    response = await post_alert(http, fmt, json.dumps(body).encode(), tokens.source, content_type)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert field in response.json()["detail"]


async def test_cloudevents_binary_and_batch_name_their_own_fields(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    event = fixture_json("cloudevents_structured.json")
    batch = [event, event | {"id": "second", "time": "tomorrow"}]
    response = await post_alert(
        http,
        "cloudevents",
        json.dumps(batch).encode(),
        tokens.source,
        "application/cloudevents-batch+json",
    )
    assert (response.status_code, response.json()["field"]) == (422, "1.time")
    binary = await post_alert(
        http,
        "cloudevents",
        json.dumps(event["data"]).encode(),
        tokens.source,
        **{
            "ce-specversion": "1.0",
            "ce-id": "b-1",
            "ce-source": "//guard",
            "ce-type": "com.example.guardrail.prompt_injection",
            "ce-time": "noon",
        },
    )
    assert (binary.status_code, binary.json()["field"]) == (422, "ce-time")


def stored(store: EventStore, alert_id: str) -> Alert:
    [event] = store.read_stream(alert_stream("detector", alert_id))
    return Alert.model_validate(event.payload["alert"])


async def test_real_senders_forms_are_kept_as_the_alerts_start(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore
) -> None:
    body = alertmanager(startsAt="2026-11-25T06:40:12.123456789Z", endsAt="0001-01-01T00:00:00Z")
    response = await post_alert(http, "alertmanager", json.dumps(body).encode(), tokens.source)
    assert response.status_code == 202, response.text
    [accepted] = response.json()["alerts"]
    alert = stored(store, accepted["alert_id"])
    assert alert.started_at == datetime(2026, 11, 25, 6, 40, 12, 123456, tzinfo=UTC)
    assert [link.href for link in alert.links][:1] == [body["alerts"][0]["generatorURL"]]
    assert alert.annotations == body["alerts"][0]["annotations"]

    trigger = pagerduty("2026-11-25T07:52:00.000+0100")
    response = await post_alert(http, "pagerduty", json.dumps(trigger).encode(), tokens.source)
    assert response.status_code == 202, response.text
    alert = stored(store, response.json()["alerts"][0]["alert_id"])
    assert alert.started_at == datetime(2026, 11, 25, 6, 52, tzinfo=UTC)
    assert [(link.href, link.text) for link in alert.links] == [
        (link["href"], link["text"]) for link in trigger["links"]
    ]
