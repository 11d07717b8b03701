"""`otlp`: OpenTelemetry GenAI security findings over OTLP/HTTP, JSON encoding.

A guardrail instrumented with the OpenTelemetry GenAI conventions reports each finding as an
event: a log record (`eventName`, or the older `event.name` attribute) or a span event on the
guardrail's own span. A collector's `otlphttp` exporter pointed at `/v1/alerts/otlp` posts
`ExportLogsServiceRequest`s to `.../otlp/v1/logs` and `ExportTraceServiceRequest`s to
`.../otlp/v1/traces`; this module reads both shapes, whichever path they came to. Every finding
becomes one alert; every other record and span of the request is ignored, so a collector may
send its whole GenAI pipeline here.

Attribute names follow the GenAI security conventions as they stand in
open-telemetry/semantic-conventions-genai (`docs/gen-ai/gen-ai-security.md`, status
Development, unreleased): the event `gen_ai.guardrail.security.finding`, attributes
`gen_ai.guardrail.security.risk.category`, `...risk.score`, `...policy.id`,
`gen_ai.guardrail.verdict.type` and the `run_guardrail` span. The earlier proposal's names
(`gen_ai.security.finding`, `gen_ai.security.risk.*`, `gen_ai.security.decision.type`,
`gen_ai.security.policy.id`, the `apply_guardrail` span) are read too, after the current ones:
instrumentations in the field still send them. `docs/alert-formats.md#otlp` has the table.

Routing reads the finding's attributes as `attributes.*`, its span's as `span.*` (with
`span.name`), the resource's as `resource.*` and the scope as `scope.name`; the built-in route
`otel-genai-security` maps the OWASP LLM categories to incident types. Protobuf encoding would
need the OTLP protobuf classes, which Firebreak does not depend on: it is refused with 415.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from orchestrator.alerts.formats.common import (
    MAX_LABEL_CHARS,
    UNROUTED,
    clip,
    digest,
    parse_json,
    validate,
)
from orchestrator.alerts.models import ParsedAlert
from orchestrator.domain import Alert, AlertStatus
from orchestrator.errors import InvalidInput, UnsupportedMediaType

CONTENT_TYPES = frozenset({"application/json", "application/x-protobuf"})
PROTOBUF = "application/x-protobuf"
MAX_FINDINGS = 500
MAX_ATTRIBUTES = 256
"""Attributes per resource, record, span or event: a Kubernetes resource carries many."""
FINDING_EVENTS = ("gen_ai.guardrail.security.finding", "gen_ai.security.finding")
"""The finding's event name: current conventions first, then the earlier proposal's."""

# Each label: the attribute names that give it, current conventions first. The labels are what
# people read on the incident and what the default route takes resources and words from.
CURRENT = "gen_ai.guardrail."
EARLIER = "gen_ai.security."
LABEL_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "risk_category": (f"{CURRENT}security.risk.category", f"{EARLIER}risk.category"),
    "risk_score": (f"{CURRENT}security.risk.score", f"{EARLIER}risk.score"),
    "risk_severity": (f"{EARLIER}risk.severity",),
    "verdict": (f"{CURRENT}verdict.type", f"{EARLIER}decision.type"),
    "action": (f"{CURRENT}action.type",),
    "policy_id": (f"{CURRENT}security.policy.id", f"{EARLIER}policy.id"),
    "policy_name": (f"{CURRENT}security.policy.name", f"{EARLIER}policy.name"),
    "rule_id": (f"{CURRENT}security.policy.rule.id",),
    "target": (f"{CURRENT}target.type", f"{EARLIER}target.type"),
    "guardrail": (f"{CURRENT}component.name", "gen_ai.guardian.name"),
    "finding_id": (f"{CURRENT}security.external_finding_id", f"{EARLIER}external_event_id"),
    "model": ("gen_ai.request.model", "gen_ai.response.model"),
    "agent": ("gen_ai.agent.name", "gen_ai.agent.id"),
    "tool": ("gen_ai.tool.name",),
    "provider": ("gen_ai.provider.name", "gen_ai.system"),
    "conversation": ("gen_ai.conversation.id",),
    "caller": ("enduser.id", "user.id", "client.address"),
    "service": ("service.name",),
    "environment": ("deployment.environment.name", "deployment.environment"),
    "namespace": ("k8s.namespace.name", "service.namespace"),
}
REASON_ATTRIBUTES = (f"{CURRENT}verdict.reason", f"{EARLIER}decision.reason")
RISK_SEVERITIES = frozenset({"none", "low", "medium", "high", "critical"})
# OTLP SeverityNumber ranges (logs data model): 1-8 TRACE/DEBUG, 9-12 INFO, 13-16 WARN,
# 17-20 ERROR, 21-24 FATAL.
LOG_SEVERITY = ((21, "critical"), (17, "high"), (13, "medium"), (1, "info"))


class KeyValue(BaseModel):
    key: str = Field(max_length=200)
    value: dict[str, Any] = Field(default_factory=dict)


class Scoped(BaseModel):
    attributes: list[KeyValue] = Field(default_factory=list, max_length=MAX_ATTRIBUTES)


class Scope(Scoped):
    name: str = Field("", max_length=500)


class LogRecord(Scoped):
    timeUnixNano: str | int | None = None
    observedTimeUnixNano: str | int | None = None
    severityNumber: int | None = None
    severityText: str = Field("", max_length=40)
    eventName: str = Field("", max_length=200)
    body: dict[str, Any] | None = None
    traceId: str = Field("", max_length=64)
    spanId: str = Field("", max_length=32)


class ScopeLogs(BaseModel):
    scope: Scope = Field(default_factory=Scope)
    logRecords: list[LogRecord] = Field(default_factory=list)


class SpanEvent(Scoped):
    timeUnixNano: str | int | None = None
    name: str = Field("", max_length=200)


class Span(Scoped):
    traceId: str = Field("", max_length=64)
    spanId: str = Field("", max_length=32)
    name: str = Field("", max_length=500)
    startTimeUnixNano: str | int | None = None
    events: list[SpanEvent] = Field(default_factory=list)


class ScopeSpans(BaseModel):
    scope: Scope = Field(default_factory=Scope)
    spans: list[Span] = Field(default_factory=list)


class ResourceLogs(BaseModel):
    resource: Scoped = Field(default_factory=Scoped)
    scopeLogs: list[ScopeLogs] = Field(default_factory=list)


class ResourceSpans(BaseModel):
    resource: Scoped = Field(default_factory=Scoped)
    scopeSpans: list[ScopeSpans] = Field(default_factory=list)


class ExportRequest(BaseModel):
    """`ExportLogsServiceRequest` or `ExportTraceServiceRequest`, as OTLP/JSON encodes them."""

    resourceLogs: list[ResourceLogs] = Field(default_factory=list)
    resourceSpans: list[ResourceSpans] = Field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    """One finding event with what surrounds it, and where it was in the request."""

    at: str
    attributes: dict[str, str]
    span: dict[str, str]
    resource: dict[str, str]
    scope: str
    time: datetime | None
    ids: tuple[str, str]
    severity_number: int | None = None
    body: str = ""


def normalise(
    body: bytes, headers: Mapping[str, str], source: str, received_at: datetime
) -> list[ParsedAlert]:
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == PROTOBUF:
        # Accepted as a content type so that the 415 can say what to do instead.
        raise UnsupportedMediaType(
            "OTLP protobuf is not supported: set the otlphttp exporter's `encoding: json`"
        )
    request = validate(ExportRequest, parse_json(body))
    findings = list(_findings(request))
    if len(findings) > MAX_FINDINGS:
        raise InvalidInput(f"body: more than {MAX_FINDINGS} findings in one request", "body")
    return [_parsed(finding, source, received_at) for finding in findings]


def _findings(request: ExportRequest) -> Iterator[Finding]:
    for r, resource_logs in enumerate(request.resourceLogs):
        resource = attributes(resource_logs.resource.attributes)
        for s, scope_logs in enumerate(resource_logs.scopeLogs):
            for i, record in enumerate(scope_logs.logRecords):
                at = f"resourceLogs.{r}.scopeLogs.{s}.logRecords.{i}"
                own = attributes(record.attributes)
                name = record.eventName or own.get("event.name", "")
                if name not in FINDING_EVENTS:
                    continue
                nanos = record.timeUnixNano or record.observedTimeUnixNano
                yield Finding(
                    at=at,
                    attributes=own,
                    span={},
                    resource=resource,
                    scope=scope_logs.scope.name,
                    time=unix_nanos(nanos, f"{at}.timeUnixNano"),
                    ids=(record.traceId, record.spanId),
                    severity_number=record.severityNumber,
                    body=text(record.body or {}),
                )
    for r, resource_spans in enumerate(request.resourceSpans):
        resource = attributes(resource_spans.resource.attributes)
        for s, scope_spans in enumerate(resource_spans.scopeSpans):
            for p, span in enumerate(scope_spans.spans):
                span_at = f"resourceSpans.{r}.scopeSpans.{s}.spans.{p}"
                span_attributes: dict[str, str] | None = None
                for e, event in enumerate(span.events):
                    if event.name not in FINDING_EVENTS:
                        continue
                    if span_attributes is None:
                        span_attributes = attributes(span.attributes)
                        span_attributes["name"] = span.name
                    at = f"{span_at}.events.{e}"
                    yield Finding(
                        at=at,
                        attributes=attributes(event.attributes),
                        span=span_attributes,
                        resource=resource,
                        scope=scope_spans.scope.name,
                        time=unix_nanos(event.timeUnixNano, f"{at}.timeUnixNano"),
                        ids=(span.traceId, span.spanId),
                    )


def _parsed(finding: Finding, source: str, received_at: datetime) -> ParsedAlert:
    labels = _labels(finding)
    category = labels.get("risk_category", "")
    reason = _first(finding, REASON_ATTRIBUTES) or finding.body
    guardrail = labels.get("guardrail") or finding.span.get("name") or finding.scope
    title = " ".join(
        part
        for part in (
            category or "security finding",
            f"({labels['verdict']})" if labels.get("verdict") else "",
            f"by {guardrail}" if guardrail else "",
        )
        if part
    )
    who = labels.get("agent") or labels.get("service") or ""
    fingerprint = digest(
        "otlp", category, labels.get("policy_id", ""), who, labels.get("model", "")
    )
    identity = labels.get("finding_id") or digest(
        *finding.ids,
        str(finding.time.timestamp() if finding.time else ""),
        json.dumps(finding.attributes, sort_keys=True),
    )
    alert = Alert(
        id=clip(f"otlp:{identity}", 200),
        source=source,
        type=UNROUTED,
        status=AlertStatus.firing,
        title=clip(title, 1000),
        description=clip(reason, 20000),
        labels=labels,
        fingerprint=fingerprint,
        received_at=received_at,
        started_at=finding.time,
    )
    fields: dict[str, str] = {"scope.name": finding.scope}
    for prefix, values in (
        ("attributes", finding.attributes),
        ("span", finding.span),
        ("resource", finding.resource),
    ):
        fields.update({f"{prefix}.{k}": v for k, v in values.items()})
    return ParsedAlert(
        alert,
        fields={k: v for k, v in fields.items() if v},
        at=f"{finding.at}.",
        labels_at=f"{finding.at}.attributes",
    )


def _labels(finding: Finding) -> dict[str, str]:
    labels: dict[str, str] = {}
    for label, names in LABEL_ATTRIBUTES.items():
        value = _first(finding, names)
        if value:
            labels[label] = value[:MAX_LABEL_CHARS]
    severity = labels.pop("risk_severity", "").strip().lower()
    if severity in RISK_SEVERITIES:
        labels["severity"] = severity
    elif finding.severity_number:
        labels["severity"] = next(
            (word for floor, word in LOG_SEVERITY if finding.severity_number >= floor), "info"
        )
    return labels


def _first(finding: Finding, names: tuple[str, ...]) -> str:
    """The first of `names` the finding, its span or its resource carries."""
    for name in names:
        for where in (finding.attributes, finding.span, finding.resource):
            if where.get(name):
                return where[name]
    return ""


def attributes(items: list[KeyValue]) -> dict[str, str]:
    """OTLP `KeyValue`s as text by key (`KeyValue` has checked each value is an object)."""
    return {item.key: text(item.value)[:MAX_LABEL_CHARS] for item in items}


def text(value: dict[str, Any], depth: int = 0) -> str:
    """An OTLP `AnyValue` as text: scalars as written, arrays joined by commas, key lists as
    `k=v` pairs, bytes left as their base64; nesting beyond two levels is cut."""
    if depth > 2:
        return ""
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return "true" if value["boolValue"] else "false"
    for key in ("intValue", "doubleValue", "bytesValue"):
        if key in value:
            return str(value[key])
    inner = value.get("arrayValue") or value.get("kvlistValue")
    if isinstance(inner, dict) and isinstance(inner.get("values"), list):
        parts = []
        for item in inner["values"][:64]:
            if not isinstance(item, dict):
                continue
            if "key" in item:
                nested = item.get("value")
                parts.append(f"{item['key']}={text(nested if isinstance(nested, dict) else {})}")
            else:
                parts.append(text(item, depth + 1))
        return ",".join(parts)
    return ""


def unix_nanos(value: str | int | None, field: str) -> datetime | None:
    """OTLP's `fixed64` nanoseconds (a decimal string in JSON); 0 or absent: unknown."""
    if value is None or value == "" or value == 0 or value == "0":
        return None
    try:
        nanos = int(value)
        if nanos < 0:
            raise ValueError(nanos)
        return datetime.fromtimestamp(nanos / 1e9, UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidInput(f"{field}: not Unix nanoseconds: {str(value)[:40]!r}", field) from None
