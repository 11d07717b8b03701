"""Read side of the incidents projection: listing, one incident, what waits for a decision.

Callers pass the environments the principal may see; every query is scoped by them in SQL,
so an out-of-scope incident is indistinguishable from a missing one.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from orchestrator.domain import IncidentStatus, PendingDecision
from orchestrator.errors import InvalidInput
from orchestrator.incidents.models import (
    IncidentDetail,
    IncidentPage,
    IncidentSummary,
    PendingApproval,
    incidents,
)
from orchestrator.timeutil import as_utc

MAX_PAGE = 200


def _summary_fields(row: sa.Row[Any]) -> dict[str, Any]:
    data = dict(row._mapping)
    for key in ("opened_at", "closed_at"):
        if data[key] is not None:
            data[key] = as_utc(data[key])
    data["pending_count"] = len(data["pending"])
    return data


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
) -> IncidentPage:
    """Newest first; the cursor is the opening position of the last item seen."""
    before = _parse_cursor(cursor)
    query = sa.select(incidents).where(incidents.c.environment.in_(list(environments)))
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


def pending_for(
    engine: sa.Engine, principal_id: str, environments: Collection[str]
) -> list[PendingApproval]:
    """Steps the principal could decide: in scope, not theirs, not already approved by them."""
    query = sa.select(incidents).where(
        incidents.c.environment.in_(list(environments)),
        incidents.c.status == IncidentStatus.awaiting_decision.value,
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    result: list[PendingApproval] = []
    for row in rows:
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
                )
            )
    result.sort(key=lambda p: p.requested_at)
    return result
