"""Step transitions: each changes a step's state and emits the audit event that records it.

One function per transition, used by every path that makes it: a person's decision (the
`decide` update), a timeout rule, the action's outcome and compensation. So an approval looks
the same in the ledger whether alice gave it or the `approve` timeout rule did, and the step's
state and its event can never disagree.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from orchestrator.domain import (
    ActionResult,
    Actor,
    Alert,
    ApprovalPolicy,
    ConditionResult,
    Decision,
    DecisionKind,
    DecisionOutcome,
    EventType,
    IncidentState,
    PhaseName,
    Playbook,
    StepState,
    StepStatus,
)
from workflows.outbox import Outbox

TIMEOUT_ACTOR = Actor(id="firebreak/timeout", role="system")
"""Who decides when a step's timeout rule does."""


def ids(state: StepState) -> dict[str, Any]:
    """The fields that name a step in every step event."""
    return {"phase": state.phase.value, "step_id": state.step_id, "action": state.action}


def _condition(state: StepState) -> dict[str, Any]:
    """What the step's `when:` found, in the events of a conditional step (none otherwise)."""
    return {"condition": state.condition.model_dump(mode="json")} if state.condition else {}


def unmet(condition: ConditionResult) -> str:
    """Why a conditional step is skipped, for people."""
    found = "no value" if condition.value is None else repr(condition.value)
    why = f" ({condition.reason})" if condition.reason else ""
    return (
        f"condition not met: {condition.output} {condition.comparison} "
        f"{condition.operand!r}, found {found}{why}"
    )


def _decided(
    state: StepState, actor: Actor, decision_id: str | None, reason: str | None
) -> dict[str, Any]:
    return {
        "step_id": state.step_id,
        "decision_id": decision_id,
        "principal": actor.id,
        "reason": reason,
    }


def opened(
    incident: IncidentState, alert: Alert, playbook: Playbook | None, run_id: str, outbox: Outbox
) -> None:
    """The incident opens with the playbook chosen for its first alert (None: triage)."""
    incident.playbook = playbook.id if playbook else None
    incident.playbook_hash = playbook.content_hash if playbook else None
    outbox.emit(
        EventType.incident_opened,
        {
            "incident_id": incident.incident_id,
            "workflow_id": incident.workflow_id,
            "run_id": run_id,
            "type": incident.type,
            "severity": incident.severity.value,
            "environment": incident.environment.value,
            "title": incident.title,
            "playbook": incident.playbook,
            "playbook_hash": incident.playbook_hash,
            "correlation_key": incident.correlation_key,
            "alert_id": alert.id,
            "route": alert.route,
            "route_hash": alert.route_hash,
            "dry_run": bool(playbook and playbook.dry_run),
            # Only lifecycle incidents name these, so older histories' payloads stay as they were.
            **({"lifecycle": True} if incident.lifecycle else {}),
            **({"sla": incident.sla.model_dump(mode="json")} if incident.sla else {}),
        },
    )


def decided(state: StepState, decision: Decision, outbox: Outbox) -> DecisionOutcome:
    """Apply a validated decision of a person to the step it names; `retry` only makes the
    step pending again (the workflow runs it), `abort` marks where the incident stopped."""
    actor = decision.actor
    decision_id, reason = decision.decision_id, decision.reason
    if decision.kind is DecisionKind.approve:
        approve(state, outbox, actor, decision_id=decision_id, reason=reason)
    elif decision.kind is DecisionKind.reject:
        reject(state, outbox, actor, decision_id=decision_id, reason=reason)
    elif decision.kind is DecisionKind.retry:
        state.status = StepStatus.pending
    elif decision.kind is DecisionKind.skip:
        skip(
            state,
            outbox,
            "decision",
            decision_id=decision_id,
            principal=decision.principal,
            note=reason,
        )
    else:
        abort(state, outbox, actor, decision_id=decision_id, reason=reason)
    return DecisionOutcome(
        decision_id=decision_id,
        step_id=state.step_id,
        kind=decision.kind,
        step_status=state.status,
        approved_by=list(state.approved_by),
        approvals_required=state.approvals_required,
    )


def request(state: StepState, policy: ApprovalPolicy, requested_by: str, outbox: Outbox) -> None:
    """The step waits for `policy.approvals_required` responders until its deadline."""
    now = outbox.now()
    state.status = StepStatus.awaiting_approval
    state.approvals_required = policy.approvals_required
    state.requested_by = requested_by
    state.requested_at = now
    state.deadline = now + timedelta(seconds=policy.deadline_seconds)
    outbox.emit(
        EventType.step_requested,
        {
            **ids(state),
            "approvals_required": state.approvals_required,
            "deadline": state.deadline.isoformat(),
            "requested_by": state.requested_by,
            **_condition(state),
        },
    )


def escalate(state: StepState, policy: ApprovalPolicy, outbox: Outbox) -> None:
    """No decision by the deadline: the step waits `escalation_seconds` more for its target."""
    assert state.deadline is not None
    state.escalated = True
    state.deadline = state.deadline + timedelta(seconds=policy.escalation_seconds)
    outbox.emit(
        EventType.step_escalated,
        {**ids(state), "escalate_to": policy.escalate_to, "deadline": state.deadline.isoformat()},
    )


def approve(
    state: StepState,
    outbox: Outbox,
    actor: Actor,
    *,
    decision_id: str | None,
    reason: str | None,
    by_rule: bool = False,
) -> None:
    """A person's approval counts toward the quorum; a timeout rule (`by_rule`) approves the
    step outright without counting as an approver."""
    if not by_rule:
        state.approved_by.append(actor.id)
    if by_rule or len(state.approved_by) >= state.approvals_required:
        state.status = StepStatus.approved
    outbox.emit(
        EventType.step_approved,
        {
            **_decided(state, actor, decision_id, reason),
            "approved_by": list(state.approved_by),
            "approvals_required": state.approvals_required,
        },
        actor,
    )


def reject(
    state: StepState, outbox: Outbox, actor: Actor, *, decision_id: str | None, reason: str | None
) -> None:
    state.status = StepStatus.rejected
    state.finished_at = outbox.now()
    outbox.emit(EventType.step_rejected, _decided(state, actor, decision_id, reason), actor)


def abort(
    state: StepState, outbox: Outbox, actor: Actor, *, decision_id: str, reason: str | None
) -> None:
    """A responder aborts the incident at this step; compensation follows."""
    if state.status is StepStatus.awaiting_approval:
        state.status = StepStatus.rejected
    else:
        state.status = StepStatus.failed
    state.finished_at = outbox.now()
    outbox.emit(EventType.incident_aborted, _decided(state, actor, decision_id, reason), actor)


def skip(state: StepState, outbox: Outbox, reason: str, **extra: Any) -> None:
    state.status = StepStatus.skipped
    state.finished_at = outbox.now()
    outbox.emit(
        EventType.step_skipped, {**ids(state), "reason": reason, **_condition(state), **extra}
    )


def start(
    state: StepState, phase: PhaseName, outbox: Outbox, *, retried_by: tuple[str, str] | None
) -> None:
    """The step's action starts (again, when a responder chose `retry`: `retried_by` is that
    decision's id and principal)."""
    state.status = StepStatus.running
    state.attempts += 1
    state.started_at = outbox.now()
    started: dict[str, Any] = {
        "phase": phase.value,
        "step_id": state.step_id,
        "action": state.action,
        "params": state.params,
        "attempt": state.attempts,
        **_condition(state),
    }
    if retried_by is not None:
        started |= {"decision_id": retried_by[0], "principal": retried_by[1]}
    outbox.emit(EventType.step_started, started)


def succeed(state: StepState, outbox: Outbox, result: ActionResult) -> None:
    state.status = StepStatus.succeeded
    state.result = result
    state.error = None
    state.finished_at = outbox.now()
    outbox.emit(EventType.step_succeeded, {**ids(state), "result": result.model_dump(mode="json")})
    if result.evidence:
        outbox.emit(
            EventType.evidence_collected,
            {"step_id": state.step_id, "digests": list(result.evidence)},
        )


def fail(state: StepState, outbox: Outbox, error: str) -> None:
    """The action failed for good: the step waits for a responder to retry, skip or abort."""
    state.status = StepStatus.awaiting_decision
    state.error = error
    state.requested_at = outbox.now()
    state.deadline = None
    outbox.emit(EventType.step_failed, {**ids(state), "attempt": state.attempts, "error": error})


def stall(state: StepState, outbox: Outbox, action: str, running_seconds: float) -> None:
    """`action` (the step's own, or its inverse during compensation) runs past the stall
    deadline; it is reported, not stopped."""
    state.stalled = True
    outbox.emit(
        EventType.step_stalled,
        {
            **ids(state),
            "action": action,
            "attempt": state.attempts,
            "running_seconds": running_seconds,
        },
    )


def compensate(
    target: StepState,
    outbox: Outbox,
    inverse: str,
    *,
    result: ActionResult | None = None,
    error: str | None = None,
) -> None:
    """`inverse` undid the effect of `target` (or failed to, with `error`)."""
    payload = {**ids(target), "action": inverse}
    if error is not None:
        outbox.emit(EventType.step_compensated, {**payload, "error": error})
        return
    assert result is not None
    target.status = StepStatus.compensated
    outbox.emit(EventType.step_compensated, {**payload, "result": result.model_dump(mode="json")})
