"""Firebreak's shared vocabulary: the pydantic models every package speaks.

Workflows import this module inside Temporal's sandbox, so it must stay free of I/O and
module-level side effects. Playbook, step and incident-state models are added here by the
incident-workflow work; keep additions additive so all three packages agree on one shape.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Environment(StrEnum):
    dev = "dev"
    staging = "staging"
    prod = "prod"


class Severity(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Role(StrEnum):
    admin = "admin"
    responder = "responder"
    auditor = "auditor"
    source = "source"


class AlertStatus(StrEnum):
    firing = "firing"
    resolved = "resolved"


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class Actor(BaseModel):
    """Who caused an event: a principal (by id and role) or Firebreak itself."""

    model_config = ConfigDict(frozen=True)

    id: str
    role: str

    @classmethod
    def system(cls, component: str = "workflow") -> Actor:
        return cls(id=f"firebreak/{component}", role="system")


class Resources(BaseModel):
    """The things an alert points at, which playbook steps act on."""

    model_config = ConfigDict(frozen=True)

    model: str | None = None
    model_version: str | None = None
    api_key: str | None = None
    dataset: str | None = None
    dataset_version: str | None = None
    agent: str | None = None
    tool: str | None = None


class Alert(BaseModel):
    """One normalised detection, whatever webhook format it arrived in.

    Every text field is attacker-controlled (an injection alert carries the injection): it is
    data to store, escape and show, never to interpret.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The sender's alert/delivery id; retries carry the same id.")
    source: str
    type: Slug = Field(description="Incident type, e.g. prompt_injection; selects the playbook.")
    severity: Severity = Severity.high
    environment: Environment = Environment.prod
    status: AlertStatus = AlertStatus.firing
    title: str = Field("", max_length=1000)
    description: str = Field("", max_length=20000)
    resources: Resources = Field(default_factory=Resources)
    labels: dict[str, str] = Field(default_factory=dict)
    fingerprint: str = Field(description="Stable identity of the condition; storms share it.")
    received_at: datetime
    raw_ref: str | None = Field(
        None, description="Event id of the AlertReceived with the raw body."
    )

    @property
    def correlation_key(self) -> str:
        """Alerts with one key belong to one open incident."""
        return f"{self.type}/{self.environment}/{self.fingerprint}"

    @property
    def workflow_id(self) -> str:
        digest = hashlib.sha256(self.correlation_key.encode()).hexdigest()[:20]
        return f"incident-{digest}"


class EventType(StrEnum):
    """The closed set of audit event types. Adding one is a documented, reviewed change."""

    alert_received = "AlertReceived"
    alert_attached = "AlertAttached"
    alert_resolved = "AlertResolved"
    incident_opened = "IncidentOpened"
    incident_closed = "IncidentClosed"
    incident_aborted = "IncidentAborted"
    phase_started = "PhaseStarted"
    phase_completed = "PhaseCompleted"
    step_requested = "StepRequested"
    step_approved = "StepApproved"
    step_rejected = "StepRejected"
    step_escalated = "StepEscalated"
    step_started = "StepStarted"
    step_succeeded = "StepSucceeded"
    step_failed = "StepFailed"
    step_skipped = "StepSkipped"
    step_stalled = "StepStalled"
    step_compensated = "StepCompensated"
    evidence_collected = "EvidenceCollected"
    notification_sent = "NotificationSent"
    principal_created = "PrincipalCreated"
    principal_revoked = "PrincipalRevoked"


class NewEvent(BaseModel):
    """An event to append. `sensitive` names payload keys the store encrypts at rest."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="UUID; deterministic in workflows so replays never duplicate.")
    type: str
    actor: Actor
    occurred_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)
    sensitive: tuple[str, ...] = ()


class RecordedEvent(BaseModel):
    """An event as stored: its place in the global order and in the hash chain."""

    model_config = ConfigDict(frozen=True)

    position: int
    stream_id: str
    version: int
    id: str
    type: str
    actor: Actor
    occurred_at: datetime
    recorded_at: datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class ActionInput(BaseModel):
    """What the workflow hands every action activity.

    `idempotency_key` (workflow id + step id) is how a provider recognises a retried effect and
    does not apply it twice; `params` are the step's parameters already resolved from the alert.
    """

    model_config = ConfigDict(frozen=True)

    incident_id: str
    step_id: str
    action: str
    params: dict[str, str] = Field(default_factory=dict)
    idempotency_key: str
    environment: Environment
    dry_run: bool = False


class ActionResult(BaseModel):
    """What an action did, recorded in the audit stream (`StepSucceeded`)."""

    model_config = ConfigDict(frozen=True)

    action: str
    changed: bool = Field(description="False when the effect was already in place (a retry).")
    summary: str
    outputs: dict[str, str] = Field(default_factory=dict)
    evidence: list[str] = Field(default_factory=list, description="sha256 digests of evidence.")
    inverse_params: dict[str, str] | None = Field(
        None, description="Parameters that undo this effect, for compensation."
    )
