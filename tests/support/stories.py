"""Realistic incident event streams (payloads as `docs/events.md` documents them), appended to
a real event store, so projection and API tests read what the workflow would have written."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.audit import EventStore
from orchestrator.domain import Actor, NewEvent

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
SYSTEM = Actor.system()


@dataclass
class Story:
    """Builds one incident's stream event by event, each a second after the last."""

    store: EventStore
    incident_id: str = field(default_factory=lambda: f"incident-{uuid.uuid4().hex[:12]}.run")
    environment: str = "prod"
    type: str = "prompt_injection"
    severity: str = "high"
    title: str = "Injection detected"
    start: datetime = T0
    clock: int = 0
    lifecycle: bool = False
    """An incident opened since patch `lifecycle`: its status follows the lifecycle events."""
    sla: dict[str, Any] | None = None

    def emit(self, event_type: str, actor: Actor = SYSTEM, /, **payload: Any) -> None:
        self.clock += 1
        event = NewEvent(
            id=str(uuid.uuid4()),
            type=event_type,
            actor=actor,
            occurred_at=self.start + timedelta(seconds=self.clock),
            payload=payload,
        )
        self.store.append(self.incident_id, [event])

    def open(self) -> Story:
        self.emit(
            "IncidentOpened",
            incident_id=self.incident_id,
            workflow_id=self.incident_id.split(".")[0],
            run_id="run",
            type=self.type,
            severity=self.severity,
            environment=self.environment,
            title=self.title,
            playbook=self.type,
            playbook_hash="0" * 64,
            correlation_key=f"{self.type}/{self.environment}/fp",
            alert_id="a-1",
            dry_run=False,
            **({"lifecycle": True} if self.lifecycle else {}),
            **({"sla": self.sla} if self.sla else {}),
        )
        self.emit(
            "AlertAttached", alert_id="a-1", status="firing", severity=self.severity, alert_count=1
        )
        return self

    def contain(self) -> Story:
        self.emit("PhaseStarted", phase="containment")
        self.emit(
            "StepStarted",
            phase="containment",
            step_id="revoke",
            action="keys.revoke",
            params={},
            attempt=1,
        )
        self.emit(
            "StepSucceeded", phase="containment", step_id="revoke", action="keys.revoke", result={}
        )
        self.emit("PhaseCompleted", phase="containment")
        return self

    def request(self, step_id: str, approvals: int = 1, requested_by: str | None = None) -> Story:
        self.emit(
            "StepRequested",
            phase="eradication",
            step_id=step_id,
            action="datasets.quarantine",
            approvals_required=approvals,
            deadline=(self.start + timedelta(hours=1)).isoformat(),
            requested_by=requested_by,
        )
        return self

    def approve(
        self, step_id: str, principal: str, approved_by: list[str], required: int = 1
    ) -> Story:
        self.emit(
            "StepApproved",
            Actor(id=principal, role="responder"),
            step_id=step_id,
            decision_id=str(uuid.uuid4()),
            principal=principal,
            reason="ok",
            approved_by=approved_by,
            approvals_required=required,
        )
        return self

    def run(self, step_id: str) -> Story:
        self.emit(
            "StepStarted",
            phase="eradication",
            step_id=step_id,
            action="datasets.quarantine",
            params={},
            attempt=1,
        )
        self.emit(
            "StepSucceeded",
            phase="eradication",
            step_id=step_id,
            action="datasets.quarantine",
            result={},
        )
        return self

    def acknowledge(self, principal: str = "alice") -> Story:
        self.emit(
            "IncidentAcknowledged",
            Actor(id=principal, role="responder"),
            decision_id=str(uuid.uuid4()),
            principal=principal,
            reason="",
            time_to_acknowledge_seconds=float(self.clock + 1),
        )
        return self

    def contained(self) -> Story:
        self.emit("IncidentContained", time_to_contain_seconds=float(self.clock + 1))
        return self

    def resolved(self, by: str = "playbook") -> Story:
        self.emit(
            "IncidentResolved",
            by=by,
            reason="recovery completed",
            time_to_resolve_seconds=float(self.clock + 1),
            round=0,
        )
        return self

    def reopened(self, count: int = 1) -> Story:
        self.emit(
            "IncidentReopened", alert_count=count + 1, reopened_count=count, on_reopen="responder"
        )
        return self

    def breach(self, leg: str, target: int = 1) -> Story:
        self.emit(
            "SlaBreached",
            leg=leg,
            target_seconds=target,
            elapsed_seconds=float(self.clock + 1),
            severity=self.severity,
        )
        return self

    def close(self, outcome: str = "resolved") -> Story:
        self.emit("IncidentClosed", outcome=outcome, time_to_contain_seconds=None)
        return self
