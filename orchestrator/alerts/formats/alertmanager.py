"""`alertmanager`: Prometheus Alertmanager webhook payload, version 4.

One delivery carries a group of alerts. Each becomes an `Alert`: type from the
`firebreak_type` (or `alertname`) label, severity/environment/resources from labels, title and
description from the `summary`/`description` annotations, and Alertmanager's own fingerprint.
A firing and a resolved notification of one alert have different ids (status and `startsAt`
are part of it), so both are recorded; resending the same notification is a retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from orchestrator.alerts.formats.common import (
    ENVIRONMENT_LABELS,
    TYPE_LABELS,
    clip,
    digest,
    environment,
    first_label,
    parse_json,
    resources,
    severity,
    slug,
    string_labels,
    validate,
)
from orchestrator.alerts.models import ParsedAlert
from orchestrator.domain import Alert, AlertStatus
from orchestrator.errors import InvalidInput

MAX_ALERTS = 500


class AmAlert(BaseModel):
    status: AlertStatus
    labels: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    annotations: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    startsAt: str = Field("", max_length=64)
    endsAt: str = Field("", max_length=64)
    generatorURL: str = Field("", max_length=2000)
    fingerprint: str = Field("", max_length=200)


class AmWebhook(BaseModel):
    version: Literal["4"]
    status: AlertStatus
    receiver: str = ""
    groupKey: str = ""
    alerts: list[AmAlert] = Field(min_length=1, max_length=MAX_ALERTS)


def normalise(
    body: bytes, _headers: Mapping[str, str], source: str, received_at: datetime
) -> list[ParsedAlert]:
    webhook = validate(AmWebhook, parse_json(body))
    return [
        ParsedAlert(_alert(item, f"alerts.{i}", source, received_at))
        for i, item in enumerate(webhook.alerts)
    ]


def _alert(item: AmAlert, at: str, source: str, received_at: datetime) -> Alert:
    labels = string_labels(item.labels, f"{at}.labels")
    annotations = string_labels(item.annotations, f"{at}.annotations")
    name = first_label(labels, TYPE_LABELS) or labels.get("alertname")
    if not name:
        field = f"{at}.labels.alertname"
        raise InvalidInput(f"{field}: an alert needs an alertname or firebreak_type label", field)
    fingerprint = item.fingerprint or digest(*(f"{k}={v}" for k, v in sorted(labels.items())))
    return Alert(
        id=f"{fingerprint}:{item.startsAt}:{item.status.value}",
        source=source,
        type=slug(name),
        severity=severity(labels.get("severity"), f"{at}.labels.severity"),
        environment=environment(
            first_label(labels, ENVIRONMENT_LABELS), f"{at}.labels.environment"
        ),
        status=item.status,
        title=clip(annotations.get("summary") or labels.get("alertname"), 1000),
        description=clip(annotations.get("description"), 20000),
        resources=resources(labels),
        labels=labels,
        fingerprint=fingerprint,
        received_at=received_at,
    )
