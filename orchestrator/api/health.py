"""`/healthz` (the process answers) and `/readyz` (what this replica depends on, one by one).

Readiness fails with 503 when the database, its schema or Temporal is not usable, so a load
balancer stops sending alerts to a replica that could not make them durable; liveness stays
green (and touches nothing) so the orchestrator does not restart it for an outage elsewhere.
No worker polling the task queue leaves the replica serving (alerts are recorded and
incidents opened; decisions answer 202 pending) and says `degraded`: nothing runs until a
worker polls. A SIEM sink that is failing, or that no forwarder has moved for a while although
it lags, says `degraded` too but never fails readiness: the ledger keeps every event and the
sink catches up from its cursor, so taking alerts away from this replica would only lose
more. A witness the last scheduled checkpoint could not publish to says `degraded` for the
same reason: the checkpoint is stored, and the run is retried. The JSON is documented in
docs/api.md.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Any, Literal

import anyio
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from orchestrator import db
from orchestrator.api.deps import get_engine, get_settings, get_temporal
from orchestrator.audit import EventStore
from orchestrator.forwarding.cursors import Cursors
from orchestrator.forwarding.models import SinkStatus
from orchestrator.settings import Settings
from orchestrator.temporal.schedules import schedule_id
from workflows.contracts import CheckpointOutcome

router = APIRouter(tags=["operations"])
CHECK_TIMEOUT_SECONDS = 3.0
POLLER_FRESH_SECONDS = 75.0
"""A worker's long poll on the task queue lasts about a minute (measured: an idle worker's
last access is renewed every 55 s), so a poller seen within this is a worker still running."""

FORWARDER_STALL_SECONDS = 120.0
"""A sink that lags and whose cursor row no forwarder touched for this long has none running:
a running one moves it, or writes its failure, at least every FIREBREAK_FORWARD_MAX_BACKOFF."""

State = Literal[
    "ok", "unreachable", "missing", "behind", "unknown_revision", "none", "unknown", "failing"
]


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


class Check(BaseModel):
    state: State
    detail: str = ""


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "not_ready"]
    checks: dict[str, Check]
    """`database`, `schema`, `temporal`, `workers`, `forwarding`, `witnesses`, in that order."""


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
    forwarding, witnesses = await asyncio.gather(
        _forwarding(engine) if schema.state == "ok" else _unknown(),
        _witnesses(request, settings) if temporal.state == "ok" else _unknown(),
    )
    checks = {
        "database": database,
        "schema": schema,
        "temporal": temporal,
        "workers": workers,
        "forwarding": forwarding,
        "witnesses": witnesses,
    }
    if any(c.state != "ok" for c in (database, schema, temporal)):
        response.status_code = 503
        return Readiness(status="not_ready", checks=checks)
    healthy = workers.state == "ok" and all(
        c.state in ("ok", "none") for c in (forwarding, witnesses)
    )
    return Readiness(status="ready" if healthy else "degraded", checks=checks)


async def _unknown() -> Check:
    return Check(state="unknown")


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


async def _forwarding(engine: sa.Engine) -> Check:
    """Every SIEM sink's cursor: `none` when nothing forwards, `failing` naming each failing
    sink and its reason, `behind` when one lags with no forwarder moving it."""
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            statuses = await anyio.to_thread.run_sync(
                _sink_statuses, engine, abandon_on_cancel=True
            )
    except (SQLAlchemyError, TimeoutError) as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
        return Check(state="unknown", detail=reason)
    if not statuses:
        return Check(state="none", detail="no SIEM sink has a cursor")
    failing = [s for s in statuses if s.failing_since is not None]
    if failing:
        detail = "; ".join(
            f"{s.sink}: failing since {s.failing_since:%Y-%m-%dT%H:%M:%SZ}, lag {s.lag}:"
            f" {s.last_error}"
            for s in failing
        )
        return Check(state="failing", detail=detail)
    now = datetime.now(UTC)
    stalled = [
        s
        for s in statuses
        if s.lag and (now - s.updated_at).total_seconds() > FORWARDER_STALL_SECONDS
    ]
    if stalled:
        detail = "; ".join(
            f"{s.sink}: lag {s.lag}, no forwarder progress since {s.updated_at:%Y-%m-%dT%H:%M:%SZ}"
            for s in stalled
        )
        return Check(state="behind", detail=detail)
    lag = max(s.lag for s in statuses)
    return Check(state="ok", detail=f"{len(statuses)} sinks, largest lag {lag}")


def _sink_statuses(engine: sa.Engine) -> list[SinkStatus]:
    return Cursors(engine).statuses(EventStore(engine).head()[0])


async def _witnesses(request: Request, settings: Settings) -> Check:
    """The witnesses as the last scheduled checkpoint run left them, read from Temporal (where
    the run's outcome is, whichever worker ran it): `failing` naming the witnesses it could not
    publish to, while Temporal retries it or after it gave up; `ok` naming those it reached;
    `none` without a schedule, a run, or a witness."""
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            return await _last_publish(await get_temporal(request), settings)
    except Exception as exc:  # as _temporal: any failure to ask is the same answer
        return Check(state="unknown", detail=type(exc).__name__)


async def _last_publish(client: Client, settings: Settings) -> Check:
    schedule = schedule_id(settings)
    try:
        info = (await client.get_schedule_handle(schedule).describe()).info
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return Check(state="none", detail=f"no checkpoint schedule {schedule}")
    actions = [*info.running_actions, *(r.action for r in reversed(info.recent_actions))]
    runs = [
        (a.workflow_id, a.first_execution_run_id)
        for a in actions
        if isinstance(a, ScheduleActionExecutionStartWorkflow)
    ]
    # A run still on its first attempt has no outcome yet: the one before it speaks.
    for workflow_id, run_id in dict.fromkeys(runs):
        handle = client.get_workflow_handle(
            workflow_id, run_id=run_id, result_type=CheckpointOutcome
        )
        described = await handle.describe()
        if described.status == WorkflowExecutionStatus.RUNNING:
            failures = [
                a.last_failure.message
                for a in described.raw_description.pending_activities
                if a.HasField("last_failure")
            ]
            if failures:
                return Check(state="failing", detail=f"{failures[0]} (retrying)")
            continue
        if described.status != WorkflowExecutionStatus.COMPLETED:
            return Check(state="failing", detail=await _failure(handle, described.status))
        outcome: CheckpointOutcome = await handle.result()
        if not outcome.published:
            return Check(state="none", detail="the last checkpoint run has no witness")
        reached = ", ".join(outcome.published)
        return Check(state="ok", detail=f"checkpoint at {outcome.position} published to {reached}")
    return Check(state="none", detail=f"checkpoint schedule {schedule} has not run yet")


async def _failure(handle: WorkflowHandle[Any, Any], status: WorkflowExecutionStatus | None) -> str:
    """Why a closed run did not complete: for a failed one the activity's own message (it
    names the witnesses, without credentials), else the run's status (terminated …)."""
    if status == WorkflowExecutionStatus.FAILED:
        try:
            await handle.result()
        except WorkflowFailureError as exc:
            cause = exc.cause
            while cause.__cause__ is not None:
                cause = cause.__cause__
            return cause.message if isinstance(cause, FailureError) else type(cause).__name__
    return f"the last checkpoint run was {status.name.lower() if status else 'lost'}"


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
