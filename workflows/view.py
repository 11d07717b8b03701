"""What the `state` query shows: the incident's state with the decisions it waits for.

A pure function of the workflow's state, so the console, the CLI and the API see the same
incident whichever asks, and it is tested without a server.
"""

from __future__ import annotations

from orchestrator.domain import (
    TRIAGE_STEP,
    IncidentState,
    IncidentStatus,
    PendingDecision,
    StepStatus,
)

WAITING = (StepStatus.awaiting_approval, StepStatus.awaiting_decision)


def pending_decisions(state: IncidentState) -> list[PendingDecision]:
    """Everything that waits for people: a playbook to assign (triage), an approval, or what
    to do about a failure."""
    triage = state.triage
    if triage is not None and not triage.done and triage.assigning is None:
        waiting = PendingDecision(
            step_id=TRIAGE_STEP,
            phase=None,
            action="triage",
            reason="triage",
            requested_by=triage.requested_by,
            requested_at=triage.requested_at,
        )
        return [waiting, *_steps_waiting(state)]
    return _steps_waiting(state)


def _steps_waiting(state: IncidentState) -> list[PendingDecision]:
    return [
        PendingDecision(
            step_id=st.step_id,
            phase=st.phase,
            action=st.action,
            reason="approval" if st.status is StepStatus.awaiting_approval else "failure",
            approvals_required=st.approvals_required or 1,
            approved_by=list(st.approved_by),
            requested_by=st.requested_by,
            requested_at=st.requested_at or state.opened_at,
            deadline=st.deadline,
        )
        for st in state.steps
        if st.status in WAITING
    ]


def incident_view(state: IncidentState, alert_counts: tuple[int, int]) -> IncidentState:
    """A copy of `state` with its pending decisions, its status, and `alert_counts`
    (attached and resolved alerts, including those signalled but not attached yet)."""
    pending = pending_decisions(state)
    status = state.status
    if state.closed_at is None and not state.lifecycle:  # an incident from before `lifecycle`
        status = IncidentStatus.awaiting_decision if pending else IncidentStatus.active
    alert_count, resolved_alert_count = alert_counts
    update = {
        "pending": pending,
        "status": status,
        "alert_count": alert_count,
        "resolved_alert_count": resolved_alert_count,
    }
    return state.model_copy(update=update, deep=True)
