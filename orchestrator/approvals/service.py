"""Turning an authenticated decision (API or console) into the incident workflow's validated
update, after the one scope check both front ends share."""

from __future__ import annotations

import uuid

import anyio
from temporalio.client import Client

from orchestrator.approvals.models import DecisionRequest
from orchestrator.audit import EventStore
from orchestrator.domain import Decision, DecisionOutcome, Environment, EventType, Role
from orchestrator.errors import Forbidden
from orchestrator.principals.models import Principal
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
        playbook=request.playbook,
        resources=request.resources,
    )
    return await decide(client, incident_id, decision)


async def decide_as(
    principal: Principal,
    client: Client,
    store: EventStore,
    incident_id: str,
    step_id: str,
    request: DecisionRequest,
) -> DecisionOutcome:
    """Decide as an authenticated principal, checking its scope before anything else.

    The workflow's validator has the last word (role, self-approval, quorum, step state); the
    scope is checked here first too, so a caller outside the incident's environment learns
    nothing of its state, even once the workflow has closed and validates no more.
    """
    environment = await anyio.to_thread.run_sync(incident_environment, store, incident_id)
    if environment is not None and environment not in principal.environments:
        raise Forbidden(f"principal is not scoped to the {environment.value} environment")
    return await submit(
        client,
        incident_id,
        step_id,
        request,
        principal=principal.name,
        role=principal.role,
        environments=list(principal.environments),
    )
