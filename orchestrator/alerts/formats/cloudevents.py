"""`cloudevents`: CloudEvents 1.0 over HTTP, structured, batch and binary mode.

- structured: `application/cloudevents+json`, the whole event is the body;
- batch: `application/cloudevents-batch+json`, a JSON array of structured events;
- binary: `ce-specversion`, `ce-id`, `ce-source`, `ce-type` headers, the body is `data`.

The alert id is the event's `source` + `id` (unique by the CloudEvents spec). `data` may use
the generic format's vocabulary (type, severity, environment, status, title, description,
resources, labels, fingerprint), every field optional. Routing reads the context attributes
and extensions as `ce.*` and the data as `data.*`; its default route takes `data.type`, else
the last dotted segment of the event type (`com.example.guardrail.prompt_injection`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.alerts.formats.common import (
    UNROUTED,
    clip,
    digest,
    links,
    parse_json,
    slug,
    string_labels,
    timestamp,
    validate,
)
from orchestrator.alerts.formats.fields import flatten, shallow
from orchestrator.alerts.models import ParsedAlert
from orchestrator.domain import Alert, AlertStatus, Resources
from orchestrator.errors import InvalidInput

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
CONTENT_TYPES = frozenset({STRUCTURED, BATCH, "application/json"})
MAX_BATCH = 500


class CeData(BaseModel):
    model_config = ConfigDict(extra="allow")  # a detector's own fields, for routes (`data.*`)

    type: str | None = Field(None, max_length=64)
    severity: Annotated[str, Field(max_length=40)] | int | None = None
    environment: str | None = Field(None, max_length=40)
    status: AlertStatus = AlertStatus.firing
    title: str | None = Field(None, max_length=1000)
    description: str | None = Field(None, max_length=20000)
    resources: Resources = Field(default_factory=Resources)
    labels: dict[str, Any] = Field(default_factory=dict)
    fingerprint: str | None = Field(None, min_length=1, max_length=200)


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow")  # extension attributes, for routes (`ce.*`)

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=500)
    type: str = Field(min_length=1, max_length=200)
    subject: str | None = Field(None, max_length=500)
    time: str | None = Field(None, max_length=64)
    datacontenttype: str | None = Field(None, max_length=100)
    dataschema: str | None = Field(None, max_length=2000)
    data: CeData = Field(default_factory=CeData)


def normalise(
    body: bytes, headers: Mapping[str, str], source: str, received_at: datetime
) -> list[ParsedAlert]:
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == BATCH:
        events = parse_json(body)
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_BATCH:
            raise InvalidInput(f"body: a batch is a JSON array of 1-{MAX_BATCH} events", "body")
        return [
            _parsed(validate(CloudEvent, event, str(i)), source, received_at, f"{i}.")
            for i, event in enumerate(events)
        ]
    if media_type == STRUCTURED:
        return [_parsed(validate(CloudEvent, parse_json(body)), source, received_at)]
    if "ce-specversion" not in headers:
        raise InvalidInput(
            "ce-specversion: binary mode needs ce-* headers (or send application/cloudevents+json)",
            "ce-specversion",
        )
    attributes: dict[str, Any] = {
        name[3:]: value
        for name, value in headers.items()
        if name.startswith("ce-") and name[3:] != "data"
    }
    attributes["data"] = parse_json(body)
    return [_parsed(validate(CloudEvent, attributes, "ce"), source, received_at, "ce-")]


def _parsed(event: CloudEvent, source: str, received_at: datetime, at: str = "") -> ParsedAlert:
    data = event.data
    started_at = timestamp(event.time, f"{at}time")
    labels = string_labels(data.labels, "data.labels")
    native_type = slug(data.type or event.type.rsplit(".", 1)[-1])
    fingerprint = data.fingerprint or digest(
        native_type,
        event.source,
        event.subject or data.resources.model_dump_json(exclude_none=True),
    )
    alert = Alert(
        id=f"{event.source}/{event.id}",
        source=source,
        type=UNROUTED,
        status=data.status,
        title=clip(data.title or event.subject or event.type, 1000),
        description=clip(data.description, 20000),
        labels={**labels, "ce_type": event.type[:200], "ce_source": event.source[:500]},
        fingerprint=fingerprint,
        received_at=received_at,
        links=links([(event.source, "source"), (event.dataschema, "schema")]),
        started_at=started_at,
    )
    attributes = {name: value for name, value in shallow(event).items() if name != "data"}
    fields = flatten(attributes, "ce")
    flatten(shallow(data), "data", fields)
    return ParsedAlert(alert, fields=fields, labels_at="data.labels")
