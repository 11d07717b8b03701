"""`/healthz` (the process answers) and `/readyz` (what this replica depends on, one by one).

Readiness fails with 503 when the database, its schema or Temporal is not usable, so a load
balancer stops sending alerts to a replica that could not make them durable; liveness stays
green (and touches nothing) so the orchestrator does not restart it for an outage elsewhere.
No worker polling the task queue leaves the replica serving (alerts are recorded and
incidents opened; decisions answer 202 pending) and says `degraded`: nothing runs until a
worker polls. The JSON is documented in docs/api.md.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Literal

import anyio
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from orchestrator import db
from orchestrator.api.deps import get_engine, get_settings, get_temporal
from orchestrator.settings import Settings

router = APIRouter(tags=["operations"])
CHECK_TIMEOUT_SECONDS = 3.0
POLLER_FRESH_SECONDS = 75.0
"""A worker's long poll on the task queue lasts about a minute (measured: an idle worker's
last access is renewed every 55 s), so a poller seen within this is a worker still running."""

State = Literal["ok", "unreachable", "missing", "behind", "unknown_revision", "none", "unknown"]


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


class Check(BaseModel):
    state: State
    detail: str = ""


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "not_ready"]
    checks: dict[str, Check]
    """`database`, `schema`, `temporal`, `workers`, in that order."""


@router.get("/healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    responses={503: {"model": Readiness, "description": "A dependency is not usable."}},
)
async def readyz(
    request: Request,
    engine: Annotated[sa.Engine, Depends(get_engine)],
    settings: Annotated[Settings, Depends(get_settings)],
    response: Response,
) -> Readiness:
    (database, schema), (temporal, workers) = await asyncio.gather(
        _database(engine), _temporal(request, settings.task_queue)
    )
    checks = {"database": database, "schema": schema, "temporal": temporal, "workers": workers}
    if any(c.state != "ok" for c in (database, schema, temporal)):
        response.status_code = 503
        return Readiness(status="not_ready", checks=checks)
    return Readiness(status="ready" if workers.state == "ok" else "degraded", checks=checks)


async def _database(engine: sa.Engine) -> tuple[Check, Check]:
    """(database reachable, schema revision against the code's head)."""
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            current = await anyio.to_thread.run_sync(_revision, engine, abandon_on_cancel=True)
    except (SQLAlchemyError, TimeoutError) as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
        return Check(state="unreachable", detail=reason), Check(state="unknown")
    head = _head()
    reached = Check(state="ok")
    if current == head:
        return reached, Check(state="ok", detail=f"at {head}")
    if current is None:
        return reached, Check(state="missing", detail="run `firebreak db upgrade`")
    if current in _known():
        return reached, Check(
            state="behind", detail=f"at {current}, head {head}: run `firebreak db upgrade`"
        )
    return reached, Check(state="unknown_revision", detail=f"at {current}, newer than {head}")


def _revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@cache
def _head() -> str | None:
    return db.head_revision()


@cache
def _known() -> frozenset[str]:
    return db.known_revisions()


async def _temporal(request: Request, task_queue: str) -> tuple[Check, Check]:
    """(Temporal reachable, a worker polling `task_queue` within POLLER_FRESH_SECONDS)."""
    timeout = timedelta(seconds=CHECK_TIMEOUT_SECONDS)
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            client = await get_temporal(request)
            await client.service_client.check_health(timeout=timeout)
    except Exception as exc:  # any failure to reach it is the same answer: not reachable
        return Check(state="unreachable", detail=type(exc).__name__), Check(state="unknown")
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                ),
                retry=False,
                timeout=timeout,
            )
    except Exception as exc:
        return Check(state="ok"), Check(state="unknown", detail=type(exc).__name__)
    now = datetime.now(UTC)
    fresh = [
        p
        for p in described.pollers
        if (now - p.last_access_time.ToDatetime(UTC)).total_seconds() < POLLER_FRESH_SECONDS
    ]
    if not fresh:
        return Check(state="ok"), Check(
            state="none", detail=f"no worker polls task queue {task_queue}"
        )
    return Check(state="ok"), Check(
        state="ok", detail=f"{len(fresh)} polling task queue {task_queue}"
    )
