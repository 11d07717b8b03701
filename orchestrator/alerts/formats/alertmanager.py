"""`alertmanager`: Prometheus Alertmanager webhook payload, version 4.

One delivery carries a group of alerts. Each becomes an `Alert` with its labels, title and
description from the `summary`/`description` annotations, and Alertmanager's own fingerprint;
routing then sets type, severity, environment and resources from the labels, annotations and
the other fields exposed here (`orchestrator/routing/`).
Grafana Alerting's webhook contact point sends the same shape (its `version` is "1") and is
taken here too. A firing and a resolved notification of one alert have different ids (status
and `startsAt` are part of it), so both are recorded; resending the same notification is a
retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from orchestrator.alerts.formats.common import (
    UNROUTED,
    clip,
    digest,
    links,
    parse_json,
    string_labels,
    timestamp,
    validate,
)
from orchestrator.alerts.models import ParsedAlert
from orchestrator.domain import Alert, AlertStatus

MAX_ALERTS = 500


class AmAlert(BaseModel):
    status: AlertStatus
    labels: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    annotations: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    startsAt: str = Field("", max_length=64)
    endsAt: str = Field("", max_length=64)
    generatorURL: str = Field("", max_length=2000)
    fingerprint: str = Field("", max_length=200)
    # Grafana Alerting's own links
    dashboardURL: str = Field("", max_length=2000)
    panelURL: str = Field("", max_length=2000)
    silenceURL: str = Field("", max_length=2000)


class AmWebhook(BaseModel):
    version: Literal["4", "1"]  # "1": Grafana Alerting's webhook, Alertmanager's shape
    status: AlertStatus
    receiver: str = ""
    groupKey: str = ""
    alerts: list[AmAlert] = Field(min_length=1, max_length=MAX_ALERTS)


def normalise(
    body: bytes, _headers: Mapping[str, str], source: str, received_at: datetime
) -> list[ParsedAlert]:
    webhook = validate(AmWebhook, parse_json(body))
    group = {"receiver": webhook.receiver, "groupKey": webhook.groupKey}
    return [
        _parsed(item, f"alerts.{i}", source, received_at, group)
        for i, item in enumerate(webhook.alerts)
    ]


def _parsed(
    item: AmAlert, at: str, source: str, received_at: datetime, group: dict[str, str]
) -> ParsedAlert:
    labels = string_labels(item.labels, f"{at}.labels")
    annotations = string_labels(item.annotations, f"{at}.annotations")
    started_at = timestamp(item.startsAt, f"{at}.startsAt")
    timestamp(item.endsAt, f"{at}.endsAt")
    fingerprint = item.fingerprint or digest(*(f"{k}={v}" for k, v in sorted(labels.items())))
    alert = Alert(
        id=f"{fingerprint}:{item.startsAt}:{item.status.value}",
        source=source,
        type=UNROUTED,
        status=item.status,
        title=clip(annotations.get("summary") or labels.get("alertname"), 1000),
        description=clip(annotations.get("description"), 20000),
        labels=labels,
        fingerprint=fingerprint,
        received_at=received_at,
        annotations=annotations,
        links=links(
            [
                (item.generatorURL, "source"),
                (item.dashboardURL, "dashboard"),
                (item.panelURL, "panel"),
                (annotations.get("runbook_url"), "runbook"),
                (item.silenceURL, "silence"),
            ]
        ),
        started_at=started_at,
    )
    fields = {
        **group,
        "generatorURL": item.generatorURL,
        "startsAt": item.startsAt,
        "endsAt": item.endsAt,
        **{f"annotations.{k}": v for k, v in annotations.items()},
    }
    return ParsedAlert(alert, fields=fields, at=f"{at}.", labels_at=f"{at}.labels")
