"""The ingress's tables (migration `0002` creates them) and the shapes it passes around and
returns.

`webhook_deliveries` remembers the answer to each delivery that had a `webhook-id`;
`alert_receipts` maps each alert handed over to its incident. Both are keyed as `ids.py` says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel, Field

from orchestrator.domain import Alert
from orchestrator.principals.models import Principal

metadata = sa.MetaData()
deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("response", sa.JSON),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
receipts = sa.Table(
    "alert_receipts",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("incident_id", sa.String(128), nullable=False),
    sa.Column("workflow_id", sa.String(200), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)


class AlertFormat(StrEnum):
    generic = "generic"
    alertmanager = "alertmanager"
    cloudevents = "cloudevents"
    pagerduty = "pagerduty"
    otlp = "otlp"


@dataclass(frozen=True)
class ParsedAlert:
    """One alert out of a delivery.

    `inherit_from` names an earlier alert id from the same source whose type, environment,
    severity, resources and fingerprint this one takes (a PagerDuty `resolve` carries only its
    dedup key). `forward` is False for alerts that are recorded but change nothing in the
    incident (a PagerDuty `acknowledge`).

    `fields` are the raw fields the format parsed, by the names routes match on (`ce.type`,
    `annotations.summary`, `payload.custom_details.user` ...); `at` prefixes them, and
    `labels_at` is where `labels.*` came from, to name a field at fault in the delivery.
    """

    alert: Alert
    inherit_from: str | None = None
    forward: bool = True
    fields: Mapping[str, str] = field(default_factory=dict)
    at: str = ""
    labels_at: str = "labels"

    def with_alert(self, alert: Alert) -> ParsedAlert:
        return replace(self, alert=alert)


class AcceptedAlert(BaseModel):
    alert_id: str
    incident_id: str | None = Field(
        description="The incident holding the alert; null when it was recorded only."
    )
    status: str
    duplicate: bool = Field(description="True when this alert id was received before.")
    suppressed_by: str | None = Field(
        None,
        description="The id of the suppression window that held this alert: recorded "
        "(`AlertSuppressed`), given to no incident.",
    )


class IngestResponse(BaseModel):
    """202 body: the incident(s) the delivery's alerts belong to."""

    incidents: list[str] = Field(description="Distinct incident ids, in delivery order.")
    alerts: list[AcceptedAlert]


@dataclass(frozen=True)
class Delivery:
    """What the ingress knows about one request before recording anything."""

    principal: Principal
    format: str
    body: bytes
    webhook_id: str | None
    alerts: list[ParsedAlert]


@dataclass(frozen=True)
class Known:
    """What the database already holds about a delivery, read in one go before writing."""

    previous: IngestResponse | None
    alerts: list[Alert]
    incidents: dict[str, str]
    redirects: dict[str, str] = field(default_factory=dict)
    """Own workflow id -> survivor's, for alerts whose incident was merged away."""
