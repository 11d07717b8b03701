"""Shapes the ingress passes around and returns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field

from orchestrator.domain import Alert


class AlertFormat(StrEnum):
    generic = "generic"
    alertmanager = "alertmanager"
    cloudevents = "cloudevents"
    pagerduty = "pagerduty"


@dataclass(frozen=True)
class ParsedAlert:
    """One alert out of a delivery.

    `inherit_from` names an earlier alert id from the same source whose type, environment,
    severity, resources and fingerprint this one takes (a PagerDuty `resolve` carries only its
    dedup key). `forward` is False for alerts that are recorded but change nothing in the
    incident (a PagerDuty `acknowledge`).
    """

    alert: Alert
    inherit_from: str | None = None
    forward: bool = True


class AcceptedAlert(BaseModel):
    alert_id: str
    incident_id: str | None = Field(
        description="The incident holding the alert; null when it was recorded only."
    )
    status: str
    duplicate: bool = Field(description="True when this alert id was received before.")


class IngestResponse(BaseModel):
    """202 body: the incident(s) the delivery's alerts belong to."""

    incidents: list[str] = Field(description="Distinct incident ids, in delivery order.")
    alerts: list[AcceptedAlert]
