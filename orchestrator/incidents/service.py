"""Read side of the incidents projection: listing, one incident (with its workflow's live
state), what waits for a decision.

Callers pass the environments the principal may see (`api.auth.visible_environments`); every
query is scoped by them in SQL, so an out-of-scope incident is indistinguishable from a missing
one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Any

import anyio
import sqlalchemy as sa
from temporalio.client import Client
from temporalio.service import RPCError

from orchestrator.approvals.models import PendingApproval, SlaDue
from orchestrator.domain import (
    IncidentState,
    IncidentStatus,
    PendingDecision,
    SlaLeg,
    SlaTargets,
)
from orchestrator.errors import FirebreakError, InvalidInput, NotFound
from orchestrator.incidents.models import (
    IncidentDetail,
    IncidentPage,
    IncidentSummary,
    incidents,
)
from orchestrator.temporal.incidents import describe
from orchestrator.timeutil import as_utc

MAX_PAGE = 200
LIVE_TIMEOUT_SECONDS = 2.0


def _summary_fields(row: sa.Row[Any]) -> dict[str, Any]:
    data = dict(row._mapping)
    for key in ("opened_at", "closed_at", "acknowledged_at", "resolved_at"):
        if data[key] is not None:
            data[key] = as_utc(data[key])
    data["pending_count"] = len(data["pending"])
    data["sla_next"] = sla_next(data)
    return data


def sla_next(data: dict[str, Any]) -> SlaDue | None:
    """The countdown of an open incident: its next SLA leg neither met nor breached. `data`
    is a projection row's mapping with its timestamps in UTC (the metrics read it too)."""
    if data["sla"] is None or data["closed_at"] is not None:
        return None
    opened_at: datetime = data["opened_at"]
    contain = data["time_to_contain_seconds"]
    met = {
        SlaLeg.acknowledge: data["acknowledged_at"],
        SlaLeg.contain: None if contain is None else opened_at + timedelta(seconds=contain),
        SlaLeg.resolve: data["resolved_at"],
    }
    breached = [SlaLeg(leg) for leg in data["sla_breached"] if leg in set(SlaLeg)]
    due = SlaTargets.model_validate(data["sla"]).next_due(opened_at, met, breached)
    return None if due is None else SlaDue(leg=due[1], due_at=due[0])


def _parse_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise InvalidInput("cursor: not a cursor returned by this API", field="cursor")
    return int(cursor)


def list_incidents(
    engine: sa.Engine,
    environments: Collection[str],
    *,
    status: IncidentStatus | None = None,
    type: str | None = None,
    severity: str | None = None,
    environment: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    id_prefix: str | None = None,
) -> IncidentPage:
    """Newest first; the cursor is the opening position of the last item seen. `id_prefix`
    keeps the incidents whose id starts with it, so a person may type a short id."""
    before = _parse_cursor(cursor)
    query = sa.select(incidents).where(incidents.c.environment.in_(list(environments)))
    if id_prefix:
        query = query.where(incidents.c.id.startswith(id_prefix, autoescape=True))
    for column, value in (
        (incidents.c.status, status),
        (incidents.c.type, type),
        (incidents.c.severity, severity),
        (incidents.c.environment, environment),
    ):
        if value is not None:
            query = query.where(column == str(value))
    if before is not None:
        query = query.where(incidents.c.opened_position < before)
    limit = max(1, min(limit, MAX_PAGE))
    query = query.order_by(incidents.c.opened_position.desc()).limit(limit + 1)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    items = [IncidentSummary.model_validate(_summary_fields(r)) for r in rows[:limit]]
    next_cursor = str(rows[limit - 1].opened_position) if len(rows) > limit else None
    return IncidentPage(items=items, next_cursor=next_cursor)


def get_incident(
    engine: sa.Engine, incident_id: str, environments: Collection[str]
) -> IncidentDetail | None:
    query = sa.select(incidents).where(
        incidents.c.id == incident_id, incidents.c.environment.in_(list(environments))
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else IncidentDetail.model_validate(_summary_fields(row))


async def get_incident_live(
    engine: sa.Engine,
    incident_id: str,
    environments: Collection[str],
    temporal: Client | Callable[[], Awaitable[Client]],
) -> tuple[IncidentDetail, IncidentState | None]:
    """The projected incident (NotFound when missing or out of scope) and, while it is open,
    its workflow's own view of it.

    The live part is None when Temporal or the workers do not answer within
    LIVE_TIMEOUT_SECONDS: the projection still answers. `temporal` is the client, or how to get
    it, so that a caller connecting on first need (the console) gets the same answer while
    Temporal is down.
    """
    detail = await anyio.to_thread.run_sync(get_incident, engine, incident_id, environments)
    if detail is None:
        raise NotFound(f"no incident {incident_id!r}")
    if detail.closed_at is not None:
        return detail, None
    try:
        with anyio.fail_after(LIVE_TIMEOUT_SECONDS):
            client = temporal if isinstance(temporal, Client) else await temporal()
            return detail, await describe(client, incident_id)
    except (FirebreakError, RPCError, TimeoutError):
        return detail, None


def pending_for(
    engine: sa.Engine, principal_id: str, environments: Collection[str]
) -> list[PendingApproval]:
    """Steps the principal could decide: in scope, not theirs, not already approved by them."""
    query = sa.select(incidents).where(
        incidents.c.environment.in_(list(environments)), incidents.c.closed_at.is_(None)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    result: list[PendingApproval] = []
    for row in rows:
        next_due = sla_next(_summary_fields(row)) if row.pending else None
        for raw in row.pending:
            step = PendingDecision.model_validate(raw)
            if principal_id in step.approved_by or step.requested_by == principal_id:
                continue
            result.append(
                PendingApproval(
                    **step.model_dump(),
                    incident_id=row.id,
                    incident_title=row.title,
                    environment=row.environment,
                    severity=row.severity,
                    incident_sla=next_due,
                )
            )
    result.sort(key=lambda p: p.requested_at)
    return result
