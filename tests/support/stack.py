"""The whole API served by uvicorn over a real worker and Temporal dev server, on the SQLite
event store of `fb_settings`, with the principals of `tests.support.principals`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator import db
from orchestrator.api.app import create_app
from orchestrator.audit import open_event_store
from orchestrator.domain import Environment
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import submit_alert
from tests.support.app import bearer
from tests.support.incidents import eventually, make_alert, running_worker
from tests.support.principals import Tokens, cast
from tests.support.server import serving


@pytest_asyncio.fixture
async def api_alone(dev_client: Client, fb_settings: Settings) -> AsyncIterator[tuple[str, Tokens]]:
    """The real app under uvicorn with no worker: the test starts and stops its own."""
    engine = db.make_engine(fb_settings.db_url)
    try:
        tokens = cast(engine)
    finally:
        engine.dispose()
    app = create_app(fb_settings, temporal_client=dev_client, store=open_event_store(fb_settings))
    async with serving(app) as url:
        yield url, tokens


@pytest_asyncio.fixture
async def api(
    api_alone: tuple[str, Tokens], dev_client: Client, fb_settings: Settings
) -> AsyncIterator[tuple[str, Tokens]]:
    """The real app under uvicorn, a real worker, Temporal dev server, SQLite event store."""
    async with running_worker(dev_client, fb_settings):
        yield api_alone


@pytest_asyncio.fixture
async def step_without_worker(
    api_alone: tuple[str, Tokens], dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> tuple[str, str]:
    """(incident, step): a prod step waiting for approval, and no worker left to apply one."""
    url, tokens = api_alone
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def waiting() -> list[dict[str, Any]]:
            r = await http.get("/v1/approvals", headers=bearer(tokens.ann))
            return [p for p in r.json()["items"] if p["incident_id"] == incident]

        async with running_worker(dev_client, fb_settings):
            incident = await open_incident(dev_client, fb_settings, lab, Environment.prod)
            [pending] = await eventually(waiting, timeout=60)
    return incident, pending["step_id"]


async def open_incident(client: Client, settings: Settings, lab: LabInfo, env: Environment) -> str:
    alert = make_alert(lab, "prompt_injection", env, source="detector-1")
    return (await submit_alert(client, alert, task_queue=settings.task_queue)).incident_id
