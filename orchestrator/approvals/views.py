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


LIFECYCLE_ACTIONS = {
    DecisionKind.acknowledge: "Acknowledge the incident (once): the SLA's acknowledge leg is met.",
    DecisionKind.resolve: "Resolve an open or contained incident with a reason: steps waiting "
    "for people are skipped, a running one finishes, nothing else starts.",
    DecisionKind.close: "Close a resolved incident with a reason, before its quiet period ends.",
}


def _lifecycle_route(kind: DecisionKind, description: str) -> None:
    """`POST /v1/incidents/{id}/<kind>`: a decision on step `incident`, under the same role and
    environment rules as every decision, followed the same way
    (`.../steps/incident/decisions/{decision_id}`)."""

    async def endpoint(
        incident_id: IncidentId,
        body: IncidentActionRequest,
        principal: Decider,
        client: Annotated[Client, Depends(get_temporal)],
        store: Annotated[EventStore, Depends(get_store)],
        response: Response,
    ) -> DecisionAnswer:
        try:
            request = body.as_decision(kind)
        except ValidationError as exc:
            message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            raise InvalidInput(message) from None
        answer = await service.decide_as(
            principal, client, store, incident_id, LIFECYCLE_STEP, request
        )
        return _answered(answer, response)

    endpoint.__name__ = endpoint.__qualname__ = kind.value
    router.post(
        f"/v1/incidents/{{incident_id}}/{kind.value}",
        responses=ANSWERS | problem_responses(400, 401, 403, 404, 409, 422, 503),
        summary=f"{kind.value.capitalize()} an incident",
        description=description,
    )(endpoint)


for _kind, _description in LIFECYCLE_ACTIONS.items():
    _lifecycle_route(_kind, _description)


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
