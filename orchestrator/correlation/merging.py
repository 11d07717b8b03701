"""Merging two incidents that turned out to be one, as an authenticated responder.

The checks run in the order that tells a caller least: the role (the endpoint's permission,
as for decisions), then the scope of both incidents (read from the ledger, so an incident out
of scope is refused before anything about it is told), then what the request itself gets
wrong (an incident into itself, two environments), then both incidents' state (closed: 409).
The workflows' validators judge again (`workflows.merging`), since a check here can race. Once
both workflows took the merge, the database follows (a merge sent again finishes what an
earlier one left undone, and changes nothing more): the merged incident's entities and key
lead to the survivor (`service.repoint`) and its alerts' receipts answer the survivor.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import anyio
import sqlalchemy as sa
from temporalio.client import Client

from orchestrator.alerts.models import receipts
from orchestrator.approvals.service import incident_environment
from orchestrator.audit import EventStore
from orchestrator.correlation.models import MergeAnswer, MergeBody
from orchestrator.correlation.service import repoint
from orchestrator.db import DATABASE_ERRORS, database_unavailable, writing
from orchestrator.domain import Environment, MergeOutcome, MergeRequest
from orchestrator.errors import Conflict, Forbidden, InvalidInput, NotFound
from orchestrator.principals.models import Principal
from orchestrator.temporal.incidents import describe, merge, parse_incident_id


def merge_id(incident_id: str, into: str, principal: str) -> str:
    """The same merge sent again by the same principal is the same merge (never applied
    twice); it is bound to who merges, as a decision's update id is."""
    digest = hashlib.sha256(f"{incident_id}\n{into}\n{principal}".encode()).hexdigest()
    return f"merge-{digest[:32]}"


def _environment(principal: Principal, store: EventStore, incident_id: str) -> Environment:
    environment = incident_environment(store, incident_id)
    if environment is None:
        raise NotFound(f"no incident {incident_id!r}")
    if environment not in principal.environments:
        raise Forbidden(f"principal is not scoped to the {environment.value} environment")
    return environment


def _scopes(
    principal: Principal, store: EventStore, incident_id: str, into: str
) -> tuple[Environment, Environment]:
    return (
        _environment(principal, store, incident_id),
        _environment(principal, store, into),
    )


async def merge_as(
    principal: Principal,
    client: Client,
    store: EventStore,
    incident_id: str,
    body: MergeBody,
) -> MergeAnswer:
    """Merge `incident_id` into `body.into` (the module docstring says in which order it is
    checked and what follows)."""
    env, into_env = await anyio.to_thread.run_sync(
        _scopes, principal, store, incident_id, body.into
    )
    if incident_id == body.into:
        raise InvalidInput("into: an incident cannot be merged into itself", "into")
    if env is not into_env:
        raise InvalidInput(
            f"into: a {env.value} incident cannot be merged into a {into_env.value} one "
            "(entities and approval policies are per environment)",
            "into",
        )
    merged = await describe(client, incident_id)
    # The same merge sent again after it closed B (its answer lost, or the database step
    # failed): finish it. Any other merge of a closed incident is refused.
    again = merged.closed_at is not None and merged.merged_into == body.into
    if merged.closed_at is not None and not again:
        raise Conflict(f"incident {incident_id!r} is closed ({merged.outcome}); nothing to merge")
    survivor = await describe(client, body.into)
    if survivor.closed_at is not None:
        raise Conflict(
            f"incident {body.into!r} is closed ({survivor.outcome}); merge into an open incident"
        )
    request = MergeRequest(
        merge_id=merge_id(incident_id, body.into, principal.name),
        incident_id=incident_id,
        into=body.into,
        principal=principal.name,
        role=principal.role,
        environments=list(principal.environments),
        reason=body.reason,
    )
    left = MergeOutcome(
        merge_id=request.merge_id,
        incident_id=incident_id,
        into=body.into,
        alert_count=merged.alert_count,
    )
    away, kept = await merge(client, request, away=left if again else None)
    entities, moved_receipts = await anyio.to_thread.run_sync(
        _follow, store.engine, incident_id, body.into
    )
    return MergeAnswer(
        incident_id=incident_id,
        into=body.into,
        alerts_moved=away.alert_count,
        alert_count=kept.alert_count,
        entities_moved=entities,
        receipts_moved=moved_receipts,
    )


def _follow(engine: sa.Engine, incident_id: str, into: str) -> tuple[int, int]:
    """The database after the workflows: entities, key and receipts lead to the survivor."""
    merged_workflow, _ = parse_incident_id(incident_id)
    survivor_workflow, _ = parse_incident_id(into)
    try:
        with writing(engine) as conn:
            entities = repoint(conn, merged_workflow, survivor_workflow, datetime.now(UTC))
            moved = conn.execute(
                sa.update(receipts)
                .where(receipts.c.incident_id == incident_id)
                .values(incident_id=into, workflow_id=survivor_workflow)
            ).rowcount
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "database") from None
    return entities, int(moved)
