"""Turning an authenticated decision (API or console) into the incident workflow's validated
update, after the one scope check both front ends share."""

from __future__ import annotations

import uuid

import anyio
from temporalio.client import Client

from orchestrator.approvals.models import (
    DecisionAccepted,
    DecisionAnswer,
    DecisionApplied,
    DecisionRequest,
)
from orchestrator.audit import EventStore
from orchestrator.domain import Decision, DecisionOutcome, Environment, EventType, Role
from orchestrator.errors import Forbidden, NotFound
from orchestrator.principals.models import Principal
from orchestrator.telemetry import enabled, span
from orchestrator.telemetry.links import to_started
from orchestrator.telemetry.spans import DECISION, INCIDENT, STEP
from orchestrator.temporal.incidents import (
    DecisionPending,
    DecisionRef,
    decide,
    decision_status,
    start_headers,
)


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
) -> DecisionAnswer:
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
    try:
        return _applied(await decide(client, incident_id, decision))
    except DecisionPending as pending:
        return _accepted(pending, incident_id, step_id).model_copy(update={"kind": decision.kind})


def follow_path(incident_id: str, step_id: str, decision_id: str) -> str:
    return f"/v1/incidents/{incident_id}/steps/{step_id}/decisions/{decision_id}"


def _applied(outcome: DecisionOutcome) -> DecisionApplied:
    return DecisionApplied.model_validate(outcome.model_dump())


def _accepted(pending: DecisionPending, incident_id: str, step_id: str) -> DecisionAccepted:
    return DecisionAccepted(
        decision_id=pending.decision_id,
        step_id=step_id,
        detail=pending.detail,
        follow=follow_path(incident_id, step_id, pending.decision_id),
    )


def _check_scope(principal: Principal, store: EventStore, incident_id: str) -> None:
    environment = incident_environment(store, incident_id)
    if environment is not None and environment not in principal.environments:
        raise Forbidden(f"principal is not scoped to the {environment.value} environment")


async def decide_as(
    principal: Principal,
    client: Client,
    store: EventStore,
    incident_id: str,
    step_id: str,
    request: DecisionRequest,
) -> DecisionAnswer:
    """Decide as an authenticated principal, checking its scope before anything else.

    The workflow's validator has the last word (role, self-approval, quorum, step state); the
    scope is checked here first too, so a caller outside the incident's environment learns
    nothing of its state, even once the workflow has closed and validates no more.
    """
    await anyio.to_thread.run_sync(_check_scope, principal, store, incident_id)
    # The request's trace is the decision's own, linked both ways to the incident's: this span
    # to where the incident started, the workflow's `HandleUpdate` span back to this one.
    links = to_started(await start_headers(client, incident_id)) if enabled() else []
    traced = {INCIDENT: incident_id, STEP: step_id, DECISION: request.decision.value}
    with span("firebreak.approvals.decide", traced, links):
        return await submit(
            client,
            incident_id,
            step_id,
            request,
            principal=principal.name,
            role=principal.role,
            environments=list(principal.environments),
        )


async def follow_as(
    principal: Principal,
    client: Client,
    store: EventStore,
    incident_id: str,
    step_id: str,
    decision_id: str,
) -> DecisionAnswer:
    """Where a decision the caller sent before stands: applied or still pending; NotFound once
    Temporal holds it no more (see `decision_status`), or for another principal's decision."""
    await anyio.to_thread.run_sync(_check_scope, principal, store, incident_id)
    try:
        sent_by = DecisionRef(
            decision_id, principal.name, principal.role, list(principal.environments)
        )
        outcome = await decision_status(client, incident_id, sent_by)
    except DecisionPending as pending:
        return _accepted(pending, incident_id, step_id)
    if outcome.step_id != step_id:
        raise NotFound(f"decision {decision_id!r} is not for step {step_id!r}")
    return _applied(outcome)
