"""Entity correlation through the real webhook API and a real Temporal dev server and worker:
alerts of two types naming one API key are one incident; outside the window (time set by the
normaliser's clock, no sleeping) or in another environment, two."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio.client import Client

from orchestrator.alerts import service
from orchestrator.alerts.formats import NORMALISERS
from orchestrator.alerts.models import AlertFormat, Delivery
from orchestrator.audit import open_event_store
from orchestrator.domain import EventType, IncidentState
from orchestrator.principals.service import authenticate
from orchestrator.routing.service import load_table
from orchestrator.settings import Settings
from orchestrator.temporal.coalescer import AlertCoalescer
from orchestrator.temporal.incidents import describe
from tests.correlation.conftest import CORRELATED_ROUTES, INJECTION, SPEND, delivery
from tests.routing.conftest import post
from tests.support.app import bearer
from tests.support.incidents import eventually, payloads
from tests.support.principals import Tokens


async def test_two_alert_types_naming_one_key_are_one_incident(
    served: tuple[httpx.AsyncClient, Tokens], dev_client: Client, fb_settings: Settings
) -> None:
    http, tokens = served
    key = f"key-{uuid.uuid4().hex[:8]}"
    [incident] = (await post(http, tokens.source, "alertmanager", delivery(INJECTION, key)))[
        "incidents"
    ]
    spend = await post(http, tokens.source, "alertmanager", delivery(SPEND, key))
    [joined] = spend["alerts"]
    assert spend["incidents"] == [incident] and joined["incident_id"] == incident

    # The same key in staging is another entity: its own incident.
    staging = await post(http, tokens.source, "alertmanager", delivery(SPEND, key, "llm-staging"))
    assert staging["incidents"] != [incident]

    async def joined_recorded() -> IncidentState | None:
        # The alert counts at once; its reason is recorded when it is attached.
        state = await describe(dev_client, incident)
        return state if state.correlated_alerts else None

    state = await eventually(joined_recorded, timeout=30)
    assert state.type == "prompt_injection" and state.alert_count == 2
    [why] = state.correlated_alerts
    assert (why.alert_id, why.type, why.kind, why.value, why.rule) == (
        joined["alert_id"],
        "api_key_abuse",
        "api_key",
        key,
        "key-spend",
    )

    async def attached() -> list[dict[str, Any]]:
        events = open_event_store(fb_settings).read_stream(incident)
        found = payloads(events, EventType.alert_attached.value)
        return found if len(found) == 2 else []

    first, second = await eventually(attached, timeout=30)
    assert "correlated" not in first
    assert second["correlated"] == {
        "kind": "api_key",
        "value": key,
        "rule": "key-spend",
        "type": "api_key_abuse",
        "fingerprint": why.fingerprint,
    }

    async def shown() -> dict[str, Any] | None:
        r = await http.get(f"/v1/incidents/{incident}", headers=bearer(tokens.ben))
        return r.json() if r.status_code == 200 and r.json().get("live") else None

    detail = await eventually(shown, timeout=30)
    [listed] = detail["live"]["correlated_alerts"]
    assert listed["kind"] == "api_key" and listed["value"] == key


async def test_outside_the_window_an_alert_opens_its_own_incident(
    served: tuple[httpx.AsyncClient, Tokens], dev_client: Client, fb_settings: Settings
) -> None:
    """The real normaliser, routes and ingest, with the arrival time the ingress would stamp
    set by the test: 599 s after the last alert joins, 601 s after it does not."""
    _, tokens = served
    store = open_event_store(fb_settings)
    principal = authenticate(store.engine, tokens.source)
    assert principal is not None
    ingest = service.Ingest(store, AlertCoalescer(dev_client, fb_settings.task_queue))
    routes = load_table(CORRELATED_ROUTES)
    key = f"key-{uuid.uuid4().hex[:8]}"
    t0 = datetime.now(UTC)

    async def send(which: int, at: datetime) -> str:
        body = json.dumps(delivery(which, key)).encode()
        parsed = NORMALISERS[AlertFormat.alertmanager](body, {}, principal.name, at)
        d = Delivery(principal, "alertmanager", body, None, routes.apply("alertmanager", parsed))
        response = await ingest.record_and_hand_over(d, service.known(store, d))
        [incident] = response.incidents
        return incident

    first = await send(INJECTION, t0)
    assert await send(SPEND, t0 + timedelta(seconds=599)) == first  # slides the window
    assert await send(SPEND, t0 + timedelta(seconds=599 + 599)) == first
    late = await send(SPEND, t0 + timedelta(seconds=599 + 599 + 601))
    assert late != first
    # The lapsed entity now belongs to the late alert's incident.
    assert await send(INJECTION, t0 + timedelta(seconds=599 + 599 + 602)) == late
    assert (await describe(dev_client, first)).alert_count == 3
