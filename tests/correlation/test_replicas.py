"""Two API replicas on one PostgreSQL database (each its own app, engine and ingest groups),
racing alerts of different types and fingerprints that name one API key: one incident."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.providers.local.lab import LabInfo
from orchestrator import db
from orchestrator.api.app import create_app
from orchestrator.audit import open_event_store
from orchestrator.domain import IncidentState
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import describe
from tests.correlation.conftest import CORRELATED_ROUTES, INJECTION, SPEND, delivery
from tests.support.app import bearer, terminate_started
from tests.support.incidents import encrypted_client, eventually, running_worker
from tests.support.principals import Tokens, cast

REPLICAS = 2
DELIVERIES = 12


@pytest.fixture
def pg_settings(pg_url: str, lab: LabInfo) -> Settings:
    db.upgrade(pg_url)
    return Settings(
        data_dir=lab.data_dir,
        database_url=pg_url,
        task_queue=f"replicas-{uuid.uuid4().hex[:12]}",
        rate_limit_per_minute=10_000,
        routes_file=CORRELATED_ROUTES,
        incident_quiet_seconds=0,
    )


@pytest_asyncio.fixture
async def replicas(
    temporal_dev_env: WorkflowEnvironment, pg_settings: Settings
) -> AsyncIterator[tuple[list[httpx.AsyncClient], Tokens, Client]]:
    client = encrypted_client(temporal_dev_env, pg_settings)
    stores = [open_event_store(pg_settings) for _ in range(REPLICAS)]
    tokens = cast(stores[0].engine)
    apps = [create_app(pg_settings, temporal_client=client, store=s) for s in stores]
    https = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=f"http://replica-{n}.test"
        )
        for n, app in enumerate(apps)
    ]
    try:
        async with running_worker(client, pg_settings):
            yield https, tokens, client
    finally:
        for http in https:
            await http.aclose()
        await terminate_started(client, stores[0].engine)
        for s in stores:
            s.engine.dispose()


async def test_racing_replicas_open_one_incident_for_one_key(
    replicas: tuple[list[httpx.AsyncClient], Tokens, Client],
) -> None:
    https, tokens, client = replicas
    key = f"key-{uuid.uuid4().hex[:8]}"
    bodies = [delivery(INJECTION if n % 2 else SPEND, key) for n in range(DELIVERIES)]
    assert len({b["alerts"][0]["fingerprint"] for b in bodies}) == DELIVERIES
    start = asyncio.Event()

    async def send(n: int) -> str:
        await start.wait()
        response = await https[n % REPLICAS].post(
            "/v1/alerts/alertmanager",
            content=json.dumps(bodies[n]).encode(),
            headers={**bearer(tokens.source), "content-type": "application/json"},
        )
        assert response.status_code == 202, response.text
        [incident] = response.json()["incidents"]
        return str(incident)

    sending = [asyncio.create_task(send(n)) for n in range(DELIVERIES)]
    start.set()
    incidents = set(await asyncio.gather(*sending))
    assert len(incidents) == 1
    [incident] = incidents

    async def all_attached() -> IncidentState | None:
        # Signalled alerts count at once; they are attached (and their reason recorded) when
        # the workflow next runs.
        state = await describe(client, incident)
        return state if len(state.correlated_alerts) == DELIVERIES - 1 else None

    state = await eventually(all_attached, timeout=30)
    assert state.alert_count == DELIVERIES
    assert {(c.kind, c.value) for c in state.correlated_alerts} == {("api_key", key)}
