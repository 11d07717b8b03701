"""Triage: an incident whose alert found no playbook waits for a person instead of closing.

No route, a type no playbook handles, or a parameter the alert does not carry: the incident
opens all the same, records why (`IncidentTriaged`), tells the responders, and waits. Alerts
with its correlation key keep attaching to it meanwhile, so a storm of alerts nobody planned for
is still one incident. A responder either assigns a playbook (`assign`, optionally naming the
resources the sender did not: the playbook then runs its phases in this incident) or closes it
with a reason (`close`). An assignment that cannot resolve is recorded with its reason and the
incident goes on waiting. Deciding follows the rules of every other decision: role, environment
scope, and the principal that raised the alert cannot assign its playbook.
"""

from __future__ import annotations

from orchestrator.domain import (
    TRIAGE_STEP,
    Actor,
    Decision,
    EventType,
    IncidentState,
    Playbook,
    Triage,
)
from workflows.outbox import Outbox


def enter(incident: IncidentState, reason: str, requested_by: str, outbox: Outbox) -> Triage:
    triage = Triage(reason=reason, requested_by=requested_by, requested_at=outbox.now())
    incident.triage = triage
    outbox.emit(
        EventType.incident_triaged,
        {"step_id": TRIAGE_STEP, "reason": reason, "requested_by": requested_by},
    )
    return triage


def _decided(decision: Decision) -> dict[str, object]:
    return {
        "step_id": TRIAGE_STEP,
        "decision_id": decision.decision_id,
        "principal": decision.principal,
        "playbook": decision.playbook,
        "reason": decision.reason,
    }


def assigned(
    incident: IncidentState, triage: Triage, decision: Decision, playbook: Playbook, outbox: Outbox
) -> None:
    triage.done, triage.assigning = True, None
    incident.playbook, incident.playbook_hash = playbook.id, playbook.content_hash
    payload = {**_decided(decision), "playbook_hash": playbook.content_hash}
    outbox.emit(EventType.playbook_assigned, payload, _actor(decision))


def assign_failed(triage: Triage, decision: Decision, error: str, outbox: Outbox) -> None:
    """The assigned playbook does not resolve for this incident: it stays in triage, and the
    reason it waits becomes this error."""
    triage.assigning, triage.reason = None, error
    triage.failed_assignments += 1
    outbox.emit(
        EventType.playbook_assign_failed, {**_decided(decision), "error": error}, _actor(decision)
    )


def closing(decision: Decision) -> dict[str, object]:
    """The `IncidentClosed` payload fields of a responder's `close` in triage."""
    return {
        "decision_id": decision.decision_id,
        "principal": decision.principal,
        "reason": decision.reason,
    }


def _actor(decision: Decision) -> Actor:
    return Actor(id=decision.principal, role=decision.role.value)
