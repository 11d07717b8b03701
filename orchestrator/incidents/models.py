"""The incidents projection: its tables and the shapes the API returns.

The tables are a cache derived from the audit log, never a source of truth: every column can
be recomputed by replaying the log (`IncidentProjector.rebuild`). Migration `0003` creates them
(`0005` names the projector's positions `projection_tracking`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.approvals.models import SlaDue
from orchestrator.domain import (
    Environment,
    IncidentStatus,
    PendingDecision,
    PhaseTiming,
    RecordedEvent,
    Severity,
    SlaLeg,
    SlaTargets,
)

metadata = sa.MetaData()

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("opened_position", sa.BigInteger, nullable=False, unique=True),
    sa.Column("workflow_id", sa.String(200), nullable=False),
    sa.Column("run_id", sa.String(100)),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("type", sa.String(64), nullable=False, index=True),
    sa.Column("severity", sa.String(16), nullable=False, index=True),
    sa.Column("environment", sa.String(16), nullable=False, index=True),
    sa.Column("phase", sa.String(32)),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("playbook", sa.String(200)),
    sa.Column("correlation_key", sa.Text, nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("outcome", sa.String(64)),
    sa.Column("phases", sa.JSON, nullable=False),
    sa.Column("pending", sa.JSON, nullable=False),
    sa.Column("alert_count", sa.Integer, nullable=False),
    sa.Column("resolved_alert_count", sa.Integer, nullable=False),
    sa.Column("time_to_contain_seconds", sa.Float),
    sa.Column("last_position", sa.BigInteger, nullable=False),
    sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
    # 0009: the lifecycle and its SLA.
    sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
    sa.Column("acknowledged_by", sa.String(200)),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("time_to_acknowledge_seconds", sa.Float),
    sa.Column("time_to_resolve_seconds", sa.Float),
    sa.Column("reopened_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("sla", sa.JSON),
    sa.Column("sla_breached", sa.JSON, nullable=False, server_default="[]"),
)

sla_breaches = sa.Table(
    "incident_sla_breaches",
    metadata,
    sa.Column("incident_id", sa.String(128), primary_key=True),
    sa.Column("leg", sa.String(16), primary_key=True),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("breached_at", sa.DateTime(timezone=True), nullable=False),
)
"""One row per SLA leg an incident missed, so metrics count breaches in SQL (0009)."""

decisions = sa.Table(
    "incident_decisions",
    metadata,
    sa.Column("decision_id", sa.String(128), primary_key=True),
    sa.Column("incident_id", sa.String(128), nullable=False, index=True),
    sa.Column("step_id", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("principal", sa.String(200), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("wait_seconds", sa.Float),
)

# Each projection's tracking position: the last audit position it has folded in.
tracking = sa.Table(
    "projection_tracking",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)


class IncidentSummary(BaseModel):
    """One row of `GET /v1/incidents`."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: IncidentStatus
    type: str
    severity: Severity
    environment: Environment
    phase: str | None
    title: str
    opened_at: datetime
    closed_at: datetime | None
    outcome: str | None
    alert_count: int
    resolved_alert_count: int
    pending_count: int
    time_to_contain_seconds: float | None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    time_to_acknowledge_seconds: float | None = None
    time_to_resolve_seconds: float | None = None
    reopened_count: int = 0
    sla: SlaTargets | None = Field(None, description="The SLA targets the incident opened with.")
    sla_breached: list[SlaLeg] = Field(default_factory=list)
    sla_next: SlaDue | None = Field(
        None, description="The next SLA leg to fall due and when (null: none left, or closed)."
    )


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next (older) page; absent on the last page."
    )


class IncidentDetail(IncidentSummary):
    """`GET /v1/incidents/{id}`: the projection plus, while it runs, the workflow's own view."""

    workflow_id: str
    run_id: str | None
    playbook: str | None
    correlation_key: str
    phases: dict[str, PhaseTiming]
    pending: list[PendingDecision]
    live: dict[str, Any] | None = Field(
        None, description="The running workflow's state (steps, approvals); null once closed."
    )


class Timeline(BaseModel):
    """`GET /v1/incidents/{id}/timeline`: the incident's audit stream, oldest first."""

    incident_id: str
    items: list[RecordedEvent]
