"""The lifecycle's rules (`workflows.lifecycle.check`) and SLA arithmetic, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError

from orchestrator.domain import (
    LIFECYCLE_STEP,
    Decision,
    DecisionKind,
    Environment,
    IncidentState,
    IncidentStatus,
    Role,
    Severity,
    SlaLeg,
    SlaTargets,
    Triage,
)
from workflows.lifecycle import check

OPENED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def incident(status: IncidentStatus = IncidentStatus.open, **fields: object) -> IncidentState:
    values: dict[str, object] = {
        "incident_id": "wf.run",
        "workflow_id": "wf",
        "status": status,
        "type": "prompt_injection",
        "severity": Severity.high,
        "environment": Environment.prod,
        "title": "t",
        "correlation_key": "k",
        "opened_at": OPENED,
        "lifecycle": True,
    }
    return IncidentState.model_validate(values | fields)


def decision(kind: DecisionKind, reason: str = "why") -> Decision:
    return Decision(
        decision_id="d-1",
        step_id=LIFECYCLE_STEP,
        kind=kind,
        principal="alice",
        role=Role.responder,
        environments=[Environment.prod],
        reason=reason,
    )


def refused(kind: DecisionKind, state: IncidentState, reason: str = "why") -> str:
    with pytest.raises(ApplicationError) as info:
        check(decision(kind, reason), state)
    assert info.value.type == "Conflict"
    return str(info.value)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (DecisionKind.acknowledge, IncidentStatus.open),
        (DecisionKind.acknowledge, IncidentStatus.resolved),
        (DecisionKind.resolve, IncidentStatus.open),
        (DecisionKind.resolve, IncidentStatus.contained),
        (DecisionKind.close, IncidentStatus.resolved),
    ],
)
def test_allowed(kind: DecisionKind, status: IncidentStatus) -> None:
    check(decision(kind), incident(status))


def test_refusals_say_why() -> None:
    assert "already acknowledged by bob" in refused(
        DecisionKind.acknowledge, incident(acknowledged_at=OPENED, acknowledged_by="bob")
    )
    assert "needs a reason" in refused(DecisionKind.resolve, incident(), reason=" \t")
    assert "not open" in refused(DecisionKind.resolve, incident(IncidentStatus.resolved))
    assert "resolve it before closing" in refused(DecisionKind.close, incident())
    assert "step decision" in refused(DecisionKind.approve, incident())
    in_triage = incident(triage=Triage(reason="r", requested_by="s", requested_at=OPENED))
    assert "triage" in refused(DecisionKind.resolve, in_triage)
    old = incident(IncidentStatus.active, lifecycle=False)
    assert "predates" in refused(DecisionKind.acknowledge, old)


def test_the_next_leg_due_skips_met_and_breached_legs() -> None:
    sla = SlaTargets(acknowledge_seconds=60, contain_seconds=600, resolve_seconds=3600)
    state = incident(sla=sla)
    assert state.sla_next_due() == (OPENED + timedelta(seconds=60), SlaLeg.acknowledge)
    state.sla_breached.append(SlaLeg.acknowledge)
    assert state.sla_next_due() == (OPENED + timedelta(seconds=600), SlaLeg.contain)
    state.contained_at = OPENED + timedelta(seconds=5)
    assert state.sla_next_due() == (OPENED + timedelta(hours=1), SlaLeg.resolve)
    state.resolved_at = OPENED + timedelta(minutes=30)
    assert state.sla_next_due() is None
    assert incident().sla_next_due() is None, "no SLA, no countdown"
    partial = incident(sla=SlaTargets(resolve_seconds=10))
    assert partial.sla_next_due() == (OPENED + timedelta(seconds=10), SlaLeg.resolve)
