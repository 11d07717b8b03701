"""Turning an authenticated HTTP decision into the incident workflow's validated update."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from orchestrator.approvals.models import DecisionRequest
from orchestrator.domain import Decision, DecisionOutcome, Environment, Role
from orchestrator.temporal.incidents import decide


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
