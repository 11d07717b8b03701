"""`pagerduty`: PagerDuty Events API v2 (`trigger`, `acknowledge`, `resolve`).

The `dedup_key` is both the fingerprint and the trigger's alert id, so a re-sent trigger is a
retry. `acknowledge` and `resolve` carry only the dedup key: they inherit type, environment
and resources from the trigger (see `ParsedAlert.inherit_from`). A resolve is forwarded to the
incident; an acknowledge is recorded only. Routing reads the payload as `payload.*` and the
custom details also as `labels.*`; its default route takes the type from
`custom_details.firebreak_type`, else `payload.class`, and the environment from
`custom_details.environment`, else `payload.group`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

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
from orchestrator.alerts.formats.fields import flatten, shallow
from orchestrator.alerts.models import ParsedAlert
from orchestrator.domain import Alert, AlertStatus
from orchestrator.errors import InvalidInput


class PdPayload(BaseModel):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: str | None = Field(None, max_length=64)
    component: str | None = Field(None, max_length=255)
    group: str | None = Field(None, max_length=255)
    class_: str | None = Field(None, alias="class", max_length=255)
    custom_details: dict[str, Any] = Field(default_factory=dict)


class PdLink(BaseModel):
    href: str = Field(min_length=1, max_length=2000)
    text: str = Field("", max_length=200)


class PdEvent(BaseModel):
    routing_key: str = Field(min_length=1, max_length=64)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(None, min_length=1, max_length=255)
    payload: PdPayload | None = None
    client: str | None = Field(None, max_length=255)
    client_url: str | None = Field(None, max_length=2000)
    links: list[PdLink] = Field(default_factory=list, max_length=50)


def normalise(
    body: bytes, _headers: Mapping[str, str], source: str, received_at: datetime
) -> list[ParsedAlert]:
    event = validate(PdEvent, parse_json(body))
    if event.event_action == "trigger":
        return [_trigger(event, source, received_at)]
    if event.dedup_key is None:
        raise InvalidInput(f"dedup_key: required for {event.event_action}", "dedup_key")
    placeholder = Alert(
        id=f"{event.dedup_key}:{event.event_action}",
        source=source,
        type="unknown",
        status=AlertStatus.resolved if event.event_action == "resolve" else AlertStatus.firing,
        fingerprint=event.dedup_key,
        received_at=received_at,
    )
    return [
        ParsedAlert(
            placeholder, inherit_from=event.dedup_key, forward=event.event_action == "resolve"
        )
    ]


def _trigger(event: PdEvent, source: str, received_at: datetime) -> ParsedAlert:
    payload = event.payload
    if payload is None:
        raise InvalidInput("payload: required for trigger", "payload")
    details = string_labels(payload.custom_details, "payload.custom_details")
    started_at = timestamp(payload.timestamp, "payload.timestamp")
    dedup_key = event.dedup_key or digest(
        payload.class_ or "", payload.source, payload.component or ""
    )
    labels = {
        **details,
        **{k: v for k, v in (("pd_source", payload.source), ("component", payload.component)) if v},
    }
    alert = Alert(
        id=dedup_key,
        source=source,
        type=UNROUTED,
        title=clip(payload.summary, 1000),
        description=clip(details.get("description"), 20000),
        labels=labels,
        fingerprint=dedup_key,
        received_at=received_at,
        links=links(
            [(link.href, link.text) for link in event.links]
            + [(event.client_url, event.client or "client")]
        ),
        started_at=started_at,
    )
    fields = {"event_action": event.event_action, "dedup_key": dedup_key}
    flatten(shallow(payload), "payload", fields)
    return ParsedAlert(alert, fields=fields, labels_at="payload.custom_details")
