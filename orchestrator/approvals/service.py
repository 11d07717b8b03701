"""Turning an authenticated HTTP decision into the incident workflow's validated update."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from orchestrator.approvals.models import DecisionRequest
from orchestrator.audit import EventStore
from orchestrator.domain import Decision, DecisionOutcome, Environment, EventType, Role
from orchestrator.temporal.incidents import decide


def incident_environment(store: EventStore, incident_id: str) -> Environment | None:
    """The tier an incident runs in, from its `IncidentOpened` event (None if unknown).

    Read from the ledger rather than the projection, which may lag a just-opened incident.
    """
    page = store.query(stream=incident_id, types=[EventType.incident_opened], limit=1)
    if not page.events:
        return None
    return Environment(str(page.events[0].payload["environment"]))


async def submit(
    client: Client,
    incident_id: str,
    step_id: str,
    request: DecisionRequest,
    *,
    principal: str,
    role: Role,
    environments: list[Environment],
) -> DecisionOutcome:
    """The principal comes from authentication, never the body; the workflow judges it."""
    decision = Decision(
        decision_id=request.decision_id or str(uuid.uuid4()),
        step_id=step_id,
        kind=request.decision,
        principal=principal,
        role=role,
        environments=environments,
        reason=request.reason,
    )
    return await decide(client, incident_id, decision)
