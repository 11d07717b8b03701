"""Resolved alerts reach the incident: through a real worker, the workflow counts them."""

from __future__ import annotations

import asyncio

import httpx
from temporalio.client import Client

from orchestrator.api.app import create_app
from orchestrator.audit import open_event_store
from orchestrator.db import make_engine
from orchestrator.domain import IncidentState, Role
from orchestrator.principals.service import create_principal
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import describe
from tests.support.app import fixture_bytes, post_alert, terminate_started
from tests.support.incidents import running_worker


async def state_when(client: Client, incident_id: str, resolved: int) -> IncidentState:
    for _ in range(200):
        state = await describe(client, incident_id)
        if state.resolved_alert_count >= resolved:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"incident never counted {resolved} resolved alert(s): {state}")


async def test_alertmanager_and_pagerduty_resolutions_are_shown_on_the_incident(
    fb_settings: Settings, dev_client: Client
) -> None:
    engine = make_engine(fb_settings.db_url)
    _, token = create_principal(engine, "monitor", Role.source, [])
    app = create_app(fb_settings, temporal_client=dev_client, store=open_event_store(fb_settings))
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            running_worker(dev_client, fb_settings),
            httpx.AsyncClient(transport=transport, base_url="http://t") as http,
        ):
            firing = await post_alert(
                http, "alertmanager", fixture_bytes("alertmanager_firing.json"), token
            )
            poisoning = firing.json()["alerts"][0]["incident_id"]
            await post_alert(
                http, "alertmanager", fixture_bytes("alertmanager_resolved.json"), token
            )
            state = await state_when(dev_client, poisoning, resolved=1)
            assert (state.type, state.resolved_alert_count) == ("data_poisoning", 1)

            trigger = await post_alert(
                http, "pagerduty", fixture_bytes("pagerduty_trigger.json"), token
            )
            [key_abuse] = trigger.json()["incidents"]
            await post_alert(http, "pagerduty", fixture_bytes("pagerduty_acknowledge.json"), token)
            await post_alert(http, "pagerduty", fixture_bytes("pagerduty_resolve.json"), token)
            state = await state_when(dev_client, key_abuse, resolved=1)
            assert (state.type, state.resolved_alert_count) == ("api_key_abuse", 1)
    finally:
        await terminate_started(dev_client, engine)
        engine.dispose()
