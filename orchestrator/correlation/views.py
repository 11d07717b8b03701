"""`POST /v1/incidents/{id}/merge`: a responder merges an incident into another."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from temporalio.client import Client

from orchestrator.api.auth import Permission, Principal, require
from orchestrator.api.deps import get_store, get_temporal, problem_responses
from orchestrator.audit import EventStore
from orchestrator.correlation.merging import merge_as
from orchestrator.correlation.models import MergeAnswer, MergeBody

router = APIRouter(tags=["incidents"])
Merger = Annotated[Principal, Depends(require(Permission.incidents_decide))]
IncidentId = Annotated[str, Path(min_length=1, max_length=200)]


@router.post(
    "/v1/incidents/{incident_id}/merge",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def merge_incident(
    incident_id: IncidentId,
    body: MergeBody,
    principal: Merger,
    client: Annotated[Client, Depends(get_temporal)],
    store: Annotated[EventStore, Depends(get_store)],
) -> MergeAnswer:
    """Merge this incident into `into`: its alerts move there (later alerts of its keys and
    entities too), it closes as `merged` naming the survivor, and both record
    `IncidentMerged`. Deciders only (responder, admin), in scope of both incidents; an
    incident into itself, or into one of another environment, is 422; into a closed one 409.
    """
    return await merge_as(principal, client, store, incident_id, body)
