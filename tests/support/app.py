"""The app in-process: the real app over an ASGI transport (or uvicorn), a real event store on
SQLite and PostgreSQL, the real Temporal dev server, and the principals of
`tests.support.principals`.

Workflows started by a test are terminated when it ends, so the next test (sharing the session
dev server and the fixtures' fingerprints) starts its incidents afresh.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from orchestrator import db
from orchestrator.alerts.models import receipts
from orchestrator.api.app import create_app
from orchestrator.audit import EventStore, open_event_store
from orchestrator.settings import Settings
from tests.support.incidents import encrypted_client
from tests.support.principals import Tokens, cast

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "alerts"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_bytes(name))


@pytest.fixture
def api_settings(db_url: str, tmp_path: Path) -> Settings:
    db.upgrade(db_url)
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        task_queue=f"api-{uuid.uuid4().hex[:12]}",
        rate_limit_per_minute=10_000,
    )


@pytest.fixture
def store(api_settings: Settings) -> EventStore:
    return open_event_store(api_settings)


@pytest.fixture
def tokens(store: EventStore) -> Tokens:
    return cast(store.engine)


@pytest_asyncio.fixture
async def temporal(
    temporal_dev_env: WorkflowEnvironment, api_settings: Settings, store: EventStore
) -> AsyncIterator[Client]:
    client = encrypted_client(temporal_dev_env, api_settings)
    yield client
    await terminate_started(client, store.engine)


async def terminate_started(client: Client, engine: sa.Engine) -> None:
    with engine.connect() as conn:
        workflow_ids = set(conn.execute(sa.select(receipts.c.workflow_id)).scalars())
    for workflow_id in workflow_ids:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(workflow_id).terminate("test finished")


@pytest.fixture
def app(api_settings: Settings, temporal: Client, store: EventStore) -> FastAPI:
    return create_app(api_settings, temporal_client=temporal, store=store)


@pytest_asyncio.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://firebreak.test") as client:
        yield client


def alerts_recorded(store: EventStore) -> int:
    with store.engine.connect() as conn:
        query = sa.text("SELECT count(*) FROM audit_events WHERE type = 'AlertReceived'")
        return int(conn.execute(query).scalar_one())


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def post_alert(
    http: httpx.AsyncClient,
    fmt: str,
    body: bytes,
    token: str,
    content_type: str = "application/json",
    **headers: str,
) -> httpx.Response:
    return await http.post(
        f"/v1/alerts/{fmt}",
        content=body,
        headers={**bearer(token), "content-type": content_type, **headers},
    )
