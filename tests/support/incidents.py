"""Incident-workflow fixtures: a seeded lab data dir with a migrated SQLite event store,
Firebreak settings on a task queue of its own, clients speaking the encrypted converter, and a
worker running the real workflow and activities against the lab."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.providers.local.lab import LabInfo, seed_demo_lab
from orchestrator.audit import open_event_store
from orchestrator.db import upgrade
from orchestrator.domain import (
    Alert,
    Decision,
    Environment,
    IncidentState,
    MergeRequest,
    RecordedEvent,
    Resources,
    Role,
)
from orchestrator.errors import Unavailable
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import Settings
from orchestrator.temporal.client import data_converter
from orchestrator.temporal.incidents import describe
from orchestrator.temporal.worker import build_worker
from workflows.incident import IncidentWorkflow


@pytest.fixture
def lab(tmp_path: Path) -> LabInfo:
    return seed_demo_lab(tmp_path / "data")


@pytest.fixture
def fb_settings(lab: LabInfo) -> Settings:
    settings = Settings(
        data_dir=lab.data_dir,
        task_queue=f"fb-{uuid.uuid4().hex[:12]}",
        incident_quiet_seconds=0,
    )
    upgrade(settings.db_url)
    return settings


def encrypted_client(env: WorkflowEnvironment, settings: Settings) -> Client:
    ring = KeyRing.load_or_create(settings.keyring_path)
    return Client(**{**env.client.config(), "data_converter": data_converter(ring)})


@pytest_asyncio.fixture
async def dev_client(temporal_dev_env: WorkflowEnvironment, fb_settings: Settings) -> Client:
    return encrypted_client(temporal_dev_env, fb_settings)


@pytest_asyncio.fixture
async def time_client(temporal_time_env: WorkflowEnvironment, fb_settings: Settings) -> Client:
    return encrypted_client(temporal_time_env, fb_settings)


@asynccontextmanager
async def running_worker(
    client: Client,
    settings: Settings,
    activities: list[Callable[..., Any]] | None = None,
    **options: Any,
) -> AsyncIterator[Worker]:
    worker = build_worker(client, settings, activities=activities, **options)
    async with worker:
        yield worker


def make_alert(lab: LabInfo, type_: str, env: Environment = Environment.dev, **kw: Any) -> Alert:
    """An alert pointing at the lab's resources; `kw` overrides fields."""
    resources = Resources(
        model=lab.model,
        api_key=lab.ingest_key,
        dataset=lab.dataset,
        dataset_version=lab.poisoned_version,
        agent=lab.agent,
        tool="issue_refund",
    )
    fields: dict[str, Any] = {
        "id": f"alert-{uuid.uuid4().hex[:10]}",
        "source": "detector-1",
        "type": type_,
        "environment": env,
        "title": f"{type_} detected",
        "resources": resources,
        "fingerprint": uuid.uuid4().hex,
        "received_at": datetime.now(UTC),
    }
    return Alert(**{**fields, **kw})


def audit_stream(settings: Settings, incident_id: str) -> list[RecordedEvent]:
    return open_event_store(settings).read_stream(incident_id)


async def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll an async or sync `check` until it returns a truthy value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


def decision(step_id: str, kind: str = "approve", principal: str = "alice", **kw: Any) -> Decision:
    fields: dict[str, Any] = {
        "decision_id": f"d-{uuid.uuid4().hex[:10]}",
        "step_id": step_id,
        "kind": kind,
        "principal": principal,
        "role": Role.responder,
        "environments": list(Environment),
        "reason": "checked the evidence",
    }
    return Decision(**{**fields, **kw})


def merge_request(incident_id: str, into: str, principal: str = "carol", **kw: Any) -> MergeRequest:
    """A responder's merge of `incident_id` into `into`, as the API builds it."""
    fields: dict[str, Any] = {
        "merge_id": f"m-{uuid.uuid4().hex[:10]}",
        "incident_id": incident_id,
        "into": into,
        "principal": principal,
        "role": Role.responder,
        "environments": list(Environment),
        "reason": "one attacker, one key",
    }
    return MergeRequest(**{**fields, **kw})


async def wait_for_pending(
    client: Client, incident_id: str, step_id: str, timeout: float = 30
) -> IncidentState:
    """Poll the workflow until `step_id` waits for people."""

    async def check() -> IncidentState | None:
        try:
            state = await describe(client, incident_id)
        except Unavailable:  # a worker that just took over has not answered yet
            return None
        return state if any(p.step_id == step_id for p in state.pending) else None

    result: IncidentState = await eventually(check, timeout)
    return result


async def final_state(client: Client, workflow_id: str, timeout: float = 60) -> IncidentState:
    """The closed incident's state; a timeout names the steps still waiting for people."""
    handle = client.get_workflow_handle_for(IncidentWorkflow.run, workflow_id)
    try:
        return await asyncio.wait_for(handle.result(), timeout)
    except TimeoutError:
        state = await handle.query(IncidentWorkflow.state)
        waiting = [(p.step_id, p.reason) for p in state.pending]
        raise AssertionError(f"incident still open; waiting: {waiting}") from None


def event_types(events: list[RecordedEvent]) -> list[str]:
    return [e.type for e in events]


def payloads(events: list[RecordedEvent], type_: str) -> list[dict[str, Any]]:
    return [e.payload for e in events if e.type == type_]
