"""Responder endpoints: `GET /v1/incidents`, one incident, its timeline."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query
from temporalio.client import Client

from orchestrator.api.auth import Permission, Principal, require, visible_environments
from orchestrator.api.deps import get_engine, get_store, get_temporal, problem_responses
from orchestrator.audit import EventStore
from orchestrator.domain import Environment, EventType, IncidentStatus, Severity, Slug
from orchestrator.errors import NotFound
from orchestrator.incidents import service
from orchestrator.incidents.models import IncidentDetail, IncidentPage, Timeline

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
Reader = Annotated[Principal, Depends(require(Permission.incidents_read))]
IncidentId = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("", responses=problem_responses(401, 403, 422))
async def list_incidents(
    principal: Reader,
    engine: Annotated[sa.Engine, Depends(get_engine)],
    status: IncidentStatus | None = None,
    type: Slug | None = None,
    severity: Severity | None = None,
    environment: Environment | None = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=18, pattern=r"^[0-9]+$")] = None,
    id_prefix: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[A-Za-z0-9._-]+$",
            description="Only incidents whose id starts with this (a short id a person typed).",
        ),
    ] = None,
) -> IncidentPage:
    """Incidents in the caller's environments, newest first, from the projection."""
    call = partial(
        service.list_incidents,
        engine,
        visible_environments(principal),
        status=status,
        type=type,
        severity=severity,
        environment=environment,
        limit=limit,
        cursor=cursor,
        id_prefix=id_prefix,
    )
    return await anyio.to_thread.run_sync(call)


@router.get("/{incident_id}", responses=problem_responses(401, 403, 404, 422))
async def get_incident(
    incident_id: IncidentId,
    principal: Reader,
    engine: Annotated[sa.Engine, Depends(get_engine)],
    client: Annotated[Client, Depends(get_temporal)],
) -> IncidentDetail:
    """The projected incident plus, while it runs, the workflow's live steps and approvals."""
    detail, live = await service.get_incident_live(
        engine, incident_id, visible_environments(principal), client
    )
    detail.live = live.model_dump(mode="json") if live is not None else None
    return detail


@router.get("/{incident_id}/timeline", responses=problem_responses(401, 403, 404, 422))
async def timeline(
    incident_id: IncidentId,
    principal: Reader,
    store: Annotated[EventStore, Depends(get_store)],
) -> Timeline:
    """Straight from the audit stream, so it is current even before the projection catches up."""
    events = await anyio.to_thread.run_sync(store.read_stream, incident_id)
    opened = next((e for e in events if e.type == EventType.incident_opened), None)
    scope = visible_environments(principal)
    if opened is None or str(opened.payload.get("environment")) not in scope:
        raise NotFound(f"no incident {incident_id!r}")
    return Timeline(incident_id=incident_id, items=events)
