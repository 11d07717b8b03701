"""Responder decisions: post one to a waiting step, list what waits for the caller."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel
from temporalio.client import Client

from orchestrator.api.auth import Permission, Principal, require, visible_environments
from orchestrator.api.deps import get_engine, get_store, get_temporal, problem_responses
from orchestrator.approvals import service
from orchestrator.approvals.models import DecisionRequest, PendingApproval
from orchestrator.audit import EventStore
from orchestrator.domain import DecisionOutcome
from orchestrator.incidents import service as incidents

router = APIRouter(tags=["approvals"])
Decider = Annotated[Principal, Depends(require(Permission.incidents_decide))]


class ApprovalList(BaseModel):
    items: list[PendingApproval]


@router.post(
    "/v1/incidents/{incident_id}/steps/{step_id}/decisions",
    responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
)
async def decide(
    incident_id: Annotated[str, Path(min_length=1, max_length=200)],
    step_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: DecisionRequest,
    principal: Decider,
    client: Annotated[Client, Depends(get_temporal)],
    store: Annotated[EventStore, Depends(get_store)],
) -> DecisionOutcome:
    """Approve, reject, retry, skip or abort a waiting step as the authenticated caller; for
    an incident in triage (step `triage`), assign a playbook or close it.

    Wrong role or environment, self-approval, a second approval by the same person or a step
    that is not waiting come back as 403/409 (`service.decide_as` says in which order).
    """
    return await service.decide_as(principal, client, store, incident_id, step_id, body)


@router.get("/v1/approvals", responses=problem_responses(401, 403, 422))
async def approvals(
    principal: Decider,
    engine: Annotated[sa.Engine, Depends(get_engine)],
    mine: Annotated[
        Literal["pending"], Query(description="Only `pending` is supported.")
    ] = "pending",
) -> ApprovalList:
    """Steps the caller may decide (in scope, not requested by them, not yet approved by
    them), oldest request first, with their deadlines."""
    items = await anyio.to_thread.run_sync(
        incidents.pending_for, engine, principal.name, visible_environments(principal)
    )
    return ApprovalList(items=items)
