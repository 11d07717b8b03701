"""Through the real app (real Temporal dev server, SQLite and PostgreSQL): an Alertmanager
delivery as Prometheus rules produce it, with no Firebreak label, is held by a window while the
window is active (recorded, counted, answered, no incident) and opens incidents again once the
window expires or is ended. The app's clock is moved by hand; nothing sleeps."""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from temporalio.client import Client

from orchestrator.alerts.ids import alert_stream, suppressed_stream
from orchestrator.alerts.models import receipts
from orchestrator.api.app import create_app
from orchestrator.audit import EventStore
from orchestrator.routing.service import load_table
from orchestrator.settings import Settings
from orchestrator.suppression.cache import TTL_SECONDS, ActiveWindows
from tests.support.app import bearer, fixture_bytes
from tests.support.principals import Tokens
from tests.suppression.conftest import Clock, fixture

DELIVERY = fixture("prometheus_alertmanager.json")
WINDOW = {
    "match": {"labels.team": "ml-platform", "labels.alertname": {"regex": "Guardrail.*"}},
    "reason": "CHG-1042: gateway failover drill",
    "duration": "1h",
}


@pytest.fixture
def clock(app: FastAPI, store: EventStore) -> Clock:
    clock = Clock()
    app.state.suppressions = ActiveWindows(store.engine, clock=clock, ticks=clock.monotonic)
    return clock


def firing(minute: int) -> dict[str, Any]:
    """The fixture delivery as Alertmanager sends it again for a new firing (a new startsAt
    is a new alert id; labels and fingerprint stay)."""
    body = copy.deepcopy(DELIVERY)
    for alert in body["alerts"]:
        alert["startsAt"] = f"2026-11-25T07:{minute:02d}:00.000Z"
    return body


def json_from(token: str) -> dict[str, str]:
    return {**bearer(token), "content-type": "application/json"}


async def deliver(http: httpx.AsyncClient, token: str, body: Any) -> dict[str, Any]:
    response = await http.post("/v1/alerts/alertmanager", json=body, headers=bearer(token))
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def suppressed_count(http: httpx.AsyncClient) -> float:
    text = (await http.get("/metrics")).text
    found = re.search(
        r'^firebreak_alerts_received_total\{format="alertmanager",outcome="suppressed"\} (\S+)$',
        text,
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


def receipt_count(store: EventStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(receipts)).scalar_one())


async def test_a_window_holds_matching_alerts_until_it_expires(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore, clock: Clock
) -> None:
    created = await http.post("/v1/suppressions", json=WINDOW, headers=bearer(tokens.ben))
    assert created.status_code == 201, created.text
    window = created.json()
    assert (window["state"], window["environments"]) == ("active", ["prod"])
    counted = await suppressed_count(http)

    answer = await deliver(http, tokens.source, DELIVERY)
    held, spend = answer["alerts"]
    assert held["suppressed_by"] == window["id"] and held["incident_id"] is None
    assert spend["suppressed_by"] is None and spend["incident_id"]  # staging: not in the window
    assert answer["incidents"] == [spend["incident_id"]]
    assert await suppressed_count(http) == counted + 1

    [record] = store.read_stream(suppressed_stream("detector", held["alert_id"]))
    assert record.type == "AlertSuppressed"
    assert record.payload["window_id"] == window["id"]
    assert record.payload["route"] == "default"
    assert record.payload["route_hash"] == load_table(None).content_hash
    assert record.payload["environment"] == "prod"
    assert store.read_stream(alert_stream("detector", held["alert_id"])) == []
    assert receipt_count(store) == 1  # only the staging alert went to an incident

    repeat = await deliver(http, tokens.source, DELIVERY)  # Alertmanager's repeat_interval
    assert repeat["alerts"][0]["suppressed_by"] == window["id"]
    assert len(store.read_stream(suppressed_stream("detector", held["alert_id"]))) == 1

    clock.advance(timedelta(minutes=59, seconds=59))
    again = await deliver(http, tokens.source, firing(1))
    assert again["alerts"][0]["suppressed_by"] == window["id"]

    clock.advance(timedelta(seconds=1))  # expired; no cache refresh is needed to see it
    after = await deliver(http, tokens.source, firing(2))
    opened = after["alerts"][0]
    assert opened["suppressed_by"] is None and opened["incident_id"]
    [received] = store.read_stream(alert_stream("detector", opened["alert_id"]))
    assert received.type == "AlertReceived"
    # the same alert that was held, repeated after the window, opens an incident too
    late = await deliver(http, tokens.source, DELIVERY)
    assert late["alerts"][0]["suppressed_by"] is None and late["alerts"][0]["incident_id"]
    shown = await http.get(f"/v1/suppressions/{window['id']}", headers=bearer(tokens.audrey))
    assert shown.json()["state"] == "expired"


async def test_ending_a_window_opens_incidents_again(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore, clock: Clock
) -> None:
    window = (
        await http.post(
            "/v1/suppressions", json=WINDOW | {"duration": "4h"}, headers=bearer(tokens.ann)
        )
    ).json()
    assert window["environments"] == ["dev", "prod"]
    held = (await deliver(http, tokens.source, firing(5)))["alerts"][0]
    assert held["suppressed_by"] == window["id"]

    ended = await http.post(
        f"/v1/suppressions/{window['id']}/end",
        json={"reason": "drill over"},
        headers=bearer(tokens.ben),
    )
    assert ended.status_code == 403, ended.text  # ben is not scoped to dev
    ended = await http.post(
        f"/v1/suppressions/{window['id']}/end",
        json={"reason": "drill over"},
        headers=bearer(tokens.ann),
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["state"] == "ended"
    opened = (await deliver(http, tokens.source, firing(6)))["alerts"][0]
    assert opened["suppressed_by"] is None and opened["incident_id"]
    again = await http.post(f"/v1/suppressions/{window['id']}/end", headers=bearer(tokens.ann))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    types = [e.type for e in store.read_stream(f"suppression-{window['id']}")]
    assert types == ["SuppressionCreated", "SuppressionEnded"]


@pytest.mark.parametrize(
    ("body", "field", "detail"),
    [
        ({"duration": None}, "expires_at", "no window lasts forever"),
        ({"duration": "45d"}, "expires_at", "more than 30 days"),
        ({"duration": None, "expires_at": "2026-11-25T06:00:00Z"}, "expires_at", "before it"),
        ({"match": {"alertname": "x"}}, "match.alertname", "match.alertname: unknown field"),
        ({"match": {"labels.x": {"regex": "("}}}, "match.labels.x.regex", "invalid regular"),
        ({"match": {}}, "match", "at least 1"),
        ({"reason": " "}, "reason", "a reason is required"),
        ({"environments": ["moon"]}, "environments.0", "'dev', 'staging' or 'prod'"),
        ({"starts_at": "2026-11-25T06:00:00Z"}, "starts_at", "is in the past"),
    ],
)
async def test_an_invalid_window_is_a_422_naming_the_field(
    http: httpx.AsyncClient,
    tokens: Tokens,
    clock: Clock,
    body: dict[str, Any],
    field: str | None,
    detail: str,
) -> None:
    sent = {k: v for k, v in (WINDOW | body).items() if v is not None}
    response = await http.post("/v1/suppressions", json=sent, headers=bearer(tokens.ben))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem.get("field") == field
    assert detail in problem["detail"]
    listed = await http.get("/v1/suppressions?state=all", headers=bearer(tokens.admin))
    assert listed.json()["items"] == []


async def test_hostile_text_in_a_window_is_kept_as_data(
    http: httpx.AsyncClient, tokens: Tokens, clock: Clock
) -> None:
    reason = "<script>alert(1)</script>\u202e; DROP TABLE suppression_windows; --"
    body = WINDOW | {"reason": reason, "match": {"labels.x": "'; DROP TABLE x; --"}}
    created = await http.post("/v1/suppressions", json=body, headers=bearer(tokens.ben))
    assert created.status_code == 201, created.text
    shown = await http.get(f"/v1/suppressions/{created.json()['id']}", headers=bearer(tokens.ben))
    assert shown.json()["reason"] == reason
    assert shown.json()["match"] == {"labels.x": {"equals": "'; DROP TABLE x; --"}}


async def test_a_window_made_on_one_replica_holds_on_another_within_the_ttl(
    app: FastAPI,
    http: httpx.AsyncClient,
    api_settings: Settings,
    temporal: Client,
    tokens: Tokens,
    store: EventStore,
    clock: Clock,
) -> None:
    other = create_app(api_settings, temporal_client=temporal, store=store)
    other.state.suppressions = ActiveWindows(store.engine, clock=clock, ticks=clock.monotonic)
    transport = httpx.ASGITransport(app=other, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://replica-2.test") as second:
        first_seen = (await deliver(second, tokens.source, firing(10)))["alerts"][0]
        assert first_seen["suppressed_by"] is None  # nothing to hold yet; its cache is filled

        made = await http.post("/v1/suppressions", json=WINDOW, headers=bearer(tokens.ben))
        window = made.json()
        stale = (await deliver(second, tokens.source, firing(11)))["alerts"][0]
        assert stale["suppressed_by"] is None  # within the ttl the other replica has not read it
        clock.ticks += TTL_SECONDS
        held = (await deliver(second, tokens.source, firing(12)))["alerts"][0]
        assert held["suppressed_by"] == window["id"]

        await http.post(f"/v1/suppressions/{window['id']}/end", headers=bearer(tokens.ben))
        clock.ticks += TTL_SECONDS
        after = (await deliver(second, tokens.source, firing(13)))["alerts"][0]
        assert after["suppressed_by"] is None and after["incident_id"]


async def test_a_follow_up_of_a_held_trigger_takes_its_fields_and_is_held_too(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore, clock: Clock
) -> None:
    body = {"match": {"labels.api_key_id": "key-7781"}, "reason": "key rotation", "duration": "1h"}
    window = (await http.post("/v1/suppressions", json=body, headers=bearer(tokens.ben))).json()
    for name in ("pagerduty_trigger.json", "pagerduty_resolve.json"):
        response = await http.post(
            "/v1/alerts/pagerduty", content=fixture_bytes(name), headers=json_from(tokens.source)
        )
        assert response.status_code == 202, response.text
        [answer] = response.json()["alerts"]
        assert answer["suppressed_by"] == window["id"] and answer["incident_id"] is None
    assert receipt_count(store) == 0


async def test_a_retried_delivery_gets_the_same_suppressed_answer(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore, clock: Clock
) -> None:
    window = (await http.post("/v1/suppressions", json=WINDOW, headers=bearer(tokens.ben))).json()
    headers = {**json_from(tokens.source), "webhook-id": "msg_2a9Xb7"}
    body = json.dumps(DELIVERY).encode()
    first = await http.post("/v1/alerts/alertmanager", content=body, headers=headers)
    await http.post(f"/v1/suppressions/{window['id']}/end", headers=bearer(tokens.ben))
    again = await http.post("/v1/alerts/alertmanager", content=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()  # the delivery's answer, even after the window ended
    assert first.json()["alerts"][0]["suppressed_by"] == window["id"]
