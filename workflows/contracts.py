"""What the incident workflow exchanges with its activities and with continue-as-new.

The one vocabulary `workflows/` and `activities/` share: activity names and their input and
output models. Both sides import them from here, so neither imports the other. Pydantic models
only: they cross the Temporal boundary through the pydantic data converter.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from orchestrator.domain import (
    Alert,
    DecisionOutcome,
    IncidentState,
    NewEvent,
    Playbook,
    Resources,
    SlaTargets,
)

__all__ = [
    "ASSIGN_PLAYBOOK",
    "AUDIT_APPEND",
    "CHECKPOINT_LEDGER",
    "DEFAULT_HISTORY_LIMIT",
    "NOTIFY_SEND",
    "RESOLVE_PLAYBOOK",
    "AppendInput",
    "AssignInput",
    "Carry",
    "CheckpointOutcome",
    "IncidentInput",
    "Notification",
    "ResolvedPlaybook",
]

RESOLVE_PLAYBOOK = "playbooks.resolve"
ASSIGN_PLAYBOOK = "playbooks.assign"
AUDIT_APPEND = "audit.append"
NOTIFY_SEND = "notify.send"
CHECKPOINT_LEDGER = "audit.checkpoint"
DEFAULT_HISTORY_LIMIT = 8000
"""Continue as new past this many history events (Temporal warns at 10,240)."""


class Notification(BaseModel):
    """A message to responders. Alert-derived text in it is data: notifiers escape it."""

    incident_id: str
    title: str
    body: str
    severity: str
    environment: str
    step_id: str | None = None
    kind: str | None = Field(
        None, description="What it asks of people: approval, escalation, failure, stalled."
    )
    action_hint: str | None = Field(None, description="The CLI command or URL that answers it.")
    recipient: str | None = Field(
        None, description="A named escalation target (e.g. security-lead); None: the responders."
    )


class AppendInput(BaseModel):
    stream_id: str
    events: list[NewEvent]


class CheckpointOutcome(BaseModel):
    """What a scheduled checkpoint did: the position it covers, whether it was new, and the
    witnesses it reached (names without credentials)."""

    position: int
    created: bool
    published: list[str] = Field(default_factory=list)


class ResolvedPlaybook(BaseModel):
    """The playbook for an alert with its parameters rendered, or why there is none."""

    playbook: Playbook | None = None
    error: str | None = None
    quiet_seconds: int = Field(0, description="Close after recovery once alerts stop this long.")
    history_limit: int = Field(DEFAULT_HISTORY_LIMIT, description="Continue as new past this.")
    sla: SlaTargets | None = Field(None, description="The SLA targets for the alert's severity.")


class AssignInput(BaseModel):
    """A playbook a responder assigned to an incident in triage, for its first alert."""

    alert: Alert
    playbook: str
    resources: Resources | None = Field(
        None, description="Resources the responder named; they win over the alert's."
    )


class Carry(BaseModel):
    """State handed to the next run on continue-as-new; the incident id stays the same."""

    state: IncidentState
    playbook: Playbook | None
    quiet_seconds: int
    history_limit: int = DEFAULT_HISTORY_LIMIT
    phase_index: int
    step_index: int
    seen_alerts: list[str]
    outcomes: dict[str, DecisionOutcome]
    pending_alerts: list[Alert]
    contained_at: datetime | None = None
    last_alert_at: datetime | None = None
    resolved_mark: int = Field(0, description="Alerts counted when last resolved (reopening).")


class IncidentInput(BaseModel):
    alert: Alert
    carry: Carry | None = None
