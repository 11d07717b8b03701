"""Responder decisions: post one to a waiting step, list what waits for the caller."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ValidationError
from temporalio.client import Client

from orchestrator.api.auth import Permission, Principal, require, visible_environments
from orchestrator.api.deps import get_engine, get_store, get_temporal, problem_responses
from orchestrator.approvals import service
from orchestrator.approvals.models import (
    DecisionAccepted,
    DecisionAnswer,
    DecisionApplied,
    DecisionRequest,
    IncidentActionRequest,
    PendingApproval,
)
from orchestrator.audit import EventStore
from orchestrator.domain import LIFECYCLE_STEP, DecisionKind
from orchestrator.errors import InvalidInput
from orchestrator.incidents import service as incidents

router = APIRouter(tags=["approvals"])
Decider = Annotated[Principal, Depends(require(Permission.incidents_decide))]
IncidentId = Annotated[str, Path(min_length=1, max_length=200)]
StepId = Annotated[str, Path(min_length=1, max_length=64)]
ANSWERS: dict[int | str, dict[str, object]] = {
    200: {"model": DecisionApplied, "description": "Applied: the step's new state."},
    202: {
        "model": DecisionAccepted,
        "description": "Held by Temporal, not yet applied: no worker is running. `GET` the "
        "`Location` (also `follow`) until it lands; sending it again is safe.",
    },
}


class ApprovalList(BaseModel):
    items: list[PendingApproval]


@router.post(
    "/v1/incidents/{incident_id}/steps/{step_id}/decisions",
    responses=ANSWERS | problem_responses(400, 401, 403, 404, 409, 422, 503),
)
async def decide(
    incident_id: IncidentId,
    step_id: StepId,
    body: DecisionRequest,
    principal: Decider,
    client: Annotated[Client, Depends(get_temporal)],
    store: Annotated[EventStore, Depends(get_store)],
    response: Response,
) -> DecisionAnswer:
    """Approve, reject, retry, skip or abort a waiting step as the authenticated caller; for
    an incident in triage (step `triage`), assign a playbook or close it.

    Answers within 10 s: 200 applied, 202 pending (no worker runs; follow it), or the refusal.
    Wrong role or environment, self-approval, a second approval by the same person or a step
    that is not waiting come back as 403/409 (`service.decide_as` says in which order).
    """
    answer = await service.decide_as(principal, client, store, incident_id, step_id, body)
    return _answered(answer, response)


@router.get(
    "/v1/incidents/{incident_id}/steps/{step_id}/decisions/{decision_id}",
    responses=ANSWERS | problem_responses(401, 403, 404, 409, 422, 503),
)
async def decision(
    incident_id: IncidentId,
    step_id: StepId,
    decision_id: Annotated[str, Path(min_length=1, max_length=128)],
    principal: Decider,
    client: Annotated[Client, Depends(get_temporal)],
    store: Annotated[EventStore, Depends(get_store)],
    response: Response,
) -> DecisionAnswer:
    """Follow a decision sent before: 200 once applied, 202 while it waits for a worker, 404
    when Temporal holds none by that id (refused by the workflow's rules once a worker judged
    it, or lost in a Temporal restart): send it again with the same `decision_id` to know;
    it never applies twice."""
    answer = await service.follow_as(principal, client, store, incident_id, step_id, decision_id)
    return _answered(answer, response)


LIFECYCLE_ANSWERS = ANSWERS | problem_responses(400, 401, 403, 404, 409, 422, 503)


async def _lifecycle(
    kind: DecisionKind,
    incident_id: str,
    body: IncidentActionRequest,
    principal: Principal,
    client: Client,
    store: EventStore,
    response: Response,
) -> DecisionAnswer:
    """A decision on step `incident`, under the same role and environment rules as every
    decision, and followed the same way (`.../steps/incident/decisions/{id}`)."""
    try:
        request = body.as_decision(kind)
    except ValidationError as exc:
        raise InvalidInput(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    answer = await service.decide_as(principal, client, store, incident_id, LIFECYCLE_STEP, request)
    return _answered(answer, response)


@router.post("/v1/incidents/{incident_id}/acknowledge", responses=LIFECYCLE_ANSWERS)
async def acknowledge(
    incident_id: IncidentId,
    body: IncidentActionRequest,
    principal: Decider,
    client: Annotated[Client, Depends(get_temporal)],
    store: Annotated[EventStore, Depends(get_store)],
    response: Response,
) -> DecisionAnswer:
    """Acknowledge the incident (once): the SLA's acknowledge leg is met."""
    args = (incident_id, body, principal, client, store, response)
    return await _lifecycle(DecisionKind.acknowledge, *args)


@router.post("/v1/incidents/{incident_id}/resolve", responses=LIFECYCLE_ANSWERS)
async def resolve(
    incident_id: IncidentId,
    body: IncidentActionRequest,
    principal: Decider,
    client: Annotated[Client, Depends(get_temporal)],
    store: Annotated[EventStore, Depends(get_store)],
    response: Response,
) -> DecisionAnswer:
    """Resolve an open or contained incident with a reason: steps waiting for people are
    skipped, a running one finishes, nothing else starts."""
    args = (incident_id, body, principal, client, store, response)
    return await _lifecycle(DecisionKind.resolve, *args)


@router.post("/v1/incidents/{incident_id}/close", responses=LIFECYCLE_ANSWERS)
async def close(
    incident_id: IncidentId,
    body: IncidentActionRequest,
    principal: Decider,
    client: Annotated[Client, Depends(get_temporal)],
    store: Annotated[EventStore, Depends(get_store)],
    response: Response,
) -> DecisionAnswer:
    """Close a resolved incident with a reason, before its quiet period ends."""
    args = (incident_id, body, principal, client, store, response)
    return await _lifecycle(DecisionKind.close, *args)


def _answered(answer: DecisionAnswer, response: Response) -> DecisionAnswer:
    if isinstance(answer, DecisionAccepted):
        response.status_code = 202
        response.headers["location"] = answer.follow
        response.headers["retry-after"] = "5"
    return answer


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
