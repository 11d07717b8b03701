"""The post-incident report's shape: what `GET /v1/incidents/{id}/report` returns as JSON and
what the Markdown and HTML renderings show.

Everything in it is derived from the incident's audit stream (and the ledger's own checkpoints
and verification), never from the workflow's memory or the projection, so a report for an
incident closed a year ago reads the same as one made the minute it closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.audit import Checkpoint, VerificationReport


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Leg(Frozen):
    """One measured interval of the incident (acknowledge, contain, resolve) and its target."""

    name: str
    seconds: float | None = Field(None, description="Null while the leg has not ended.")
    target_seconds: float | None = Field(None, description="The SLA target, when one is set.")
    breached: bool = Field(False, description="An `SlaBreached` event names this leg.")


class PhaseSpan(Frozen):
    phase: str
    started_at: datetime | None
    completed_at: datetime | None
    seconds: float | None


class AlertSummary(Frozen):
    count: int = Field(description="Distinct alerts attached (firings).")
    resolved: int
    first_seen: datetime | None
    last_seen: datetime | None
    sources: list[str]
    severities: dict[str, int]
    opening_alert_id: str | None


class ActionRecord(Frozen):
    """One step that ran (or was asked to): its last attempt and what it did."""

    phase: str
    step_id: str
    action: str
    status: str
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    changed: bool | None = None
    summary: str = ""
    outputs: dict[str, str] = Field(default_factory=dict)
    evidence: list[str] = Field(default_factory=list)
    error: str | None = None


class DecisionRecord(Frozen):
    """A person's (or a timeout rule's) decision on a step, with who, when and why."""

    step_id: str
    decision: str
    principal: str
    role: str
    at: datetime
    reason: str | None = None
    decision_id: str | None = None


class CompensationRecord(Frozen):
    phase: str
    step_id: str
    action: str
    at: datetime
    ok: bool
    summary: str


class EvidenceRecord(Frozen):
    step_id: str
    digest: str
    at: datetime


class TimelineEntry(Frozen):
    position: int
    at: datetime
    type: str
    actor: str
    text: str


class LedgerProof(Frozen):
    """Where the incident's events sit in the ledger and what vouches for them.

    `verification` walks the whole hash chain and checks every signed checkpoint; it passing
    means each event listed in `events` (position, hash) is in the verified chain.
    `checkpoint` is the earliest signed checkpoint at or after the incident's last event: its
    signature commits to a head that chains back over all of them. An auditor who kept their
    own copy of that checkpoint compares it with this one.
    """

    events: list[tuple[int, str]] = Field(description="(position, hash) of each event.")
    first_position: int
    last_position: int
    checkpoint: Checkpoint | None
    latest_checkpoint_position: int | None
    verification: VerificationReport


class IncidentReport(Frozen):
    incident_id: str
    title: str
    type: str
    severity: str
    environment: str
    playbook: str | None
    playbook_hash: str | None
    status: str = Field(description="open, contained, resolved, closed or aborted.")
    outcome: str | None
    opened_at: datetime
    closed_at: datetime | None
    summary: str
    legs: list[Leg]
    phases: list[PhaseSpan]
    alerts: AlertSummary
    actions: list[ActionRecord]
    decisions: list[DecisionRecord]
    compensations: list[CompensationRecord]
    evidence: list[EvidenceRecord]
    notifications: int
    timeline: list[TimelineEntry]
    ledger: LedgerProof
    generated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
