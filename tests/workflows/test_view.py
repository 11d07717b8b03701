"""The `state` query's view of an incident, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

from orchestrator.domain import (
    Environment,
    IncidentState,
    IncidentStatus,
    PhaseName,
    Severity,
    StepState,
    StepStatus,
)
from workflows.view import incident_view

OPENED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def incident(*statuses: StepStatus) -> IncidentState:
    return IncidentState(
        incident_id="wf.run",
        workflow_id="wf",
        status=IncidentStatus.active,
        type="data_poisoning",
        severity=Severity.critical,
        environment=Environment.prod,
        title="poisoned",
        correlation_key="k",
        opened_at=OPENED,
        steps=[
            StepState(step_id=f"s{i}", phase=PhaseName.containment, action="keys.revoke", status=st)
            for i, st in enumerate(statuses)
        ],
    )


def test_waiting_steps_are_pending_decisions_and_make_the_incident_wait() -> None:
    state = incident(
        StepStatus.succeeded, StepStatus.awaiting_approval, StepStatus.awaiting_decision
    )
    view = incident_view(state, (3, 1))
    assert view.status is IncidentStatus.awaiting_decision
    assert [(p.step_id, p.reason) for p in view.pending] == [("s1", "approval"), ("s2", "failure")]
    assert view.pending[0].requested_at == OPENED  # no request time recorded: the opening
    assert (view.alert_count, view.resolved_alert_count) == (3, 1)


def test_a_closed_incident_keeps_its_outcome_status_and_the_view_is_a_copy() -> None:
    state = incident(StepStatus.awaiting_approval)
    state.status, state.closed_at = IncidentStatus.aborted, OPENED
    view = incident_view(state, (1, 0))
    assert view.status is IncidentStatus.aborted
    view.steps[0].status = StepStatus.skipped
    assert state.steps[0].status is StepStatus.awaiting_approval


def test_nothing_waiting_is_active() -> None:
    assert incident_view(incident(StepStatus.running), (1, 0)).status is IncidentStatus.active
