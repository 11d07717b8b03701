"""OpenTelemetry GenAI telemetry as `TelemetryEvent`s: OTLP/HTTP trace and metric exports.

Spans: every span that carries `gen_ai.operation.name` or `gen_ai.request.model` is one model
call. Its attributes give the model (`gen_ai.request.model`), the version that answered
(`gen_ai.response.model`), the operation, token usage (`gen_ai.usage.input_tokens` /
`output_tokens`), finish reasons (`gen_ai.response.finish_reasons`, the first one), and the
caller (`enduser.id`, `user.id`, `gen_ai.agent.id`, `client.address`, in that order), its
network (`client.address`, reduced), its agent (`gen_ai.agent.id` / `gen_ai.agent.name`) and its
key (`ATTRIBUTES["api_key"]`). Span attributes win over resource attributes. A span event named
as a guardrail finding (the same names `/v1/alerts/otlp` reads, current conventions first) sets
`finding` to its risk category; a `gen_ai.evaluation.result` event sets `score` from
`gen_ai.evaluation.score.value`. A guardrail span (`apply_guardrail`, `run_guardrail`) with
findings becomes an event of that operation, which the extraction detector does not count as
a request.

Metrics: each `gen_ai.client.token.usage` histogram point of `gen_ai.token.type` `input`
becomes `count` events sharing the point's token sum (the `output` points describe the same
requests, so they are not counted again), so a deployment that exports only metrics still
feeds the request-rate baselines; spans carry more (identity and outputs per request), so
prefer them.

Both protobuf (`application/x-protobuf`, what collectors and SDKs send by default) and OTLP/JSON
are decoded, with `opentelemetry-proto`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from orchestrator.alerts.formats.otlp import FINDING_EVENTS, LABEL_ATTRIBUTES
from orchestrator.detection.inputs.common import count_of, digest_of, network_of
from orchestrator.detection.models import TelemetryEvent
from orchestrator.errors import InvalidInput, UnsupportedMediaType

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
GUARDRAIL_OPERATIONS = frozenset({"apply_guardrail", "run_guardrail"})
EVALUATION_EVENT = "gen_ai.evaluation.result"
REFUSAL_REASONS = frozenset({"content_filter", "refusal"})
MAX_EVENTS_PER_POINT = 10_000

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "caller": ("enduser.id", "user.id", "gen_ai.agent.id", "client.address"),
    "api_key": ("gen_ai.request.api_key.id", "api_key.id", "user_api_key_hash"),
    "network": ("client.address", "network.peer.address"),
    "agent": ("gen_ai.agent.id", "gen_ai.agent.name"),
    "model": ("gen_ai.request.model",),
    "model_version": ("gen_ai.response.model",),
    "input": ("gen_ai.input.messages", "gen_ai.prompt"),
    "input_digest": ("firebreak.input.digest",),
}
"""Which attributes give each field, first present wins (Firebreak's reading, documented in
docs/detection.md; the GenAI conventions have no attribute for an API key's id)."""
RISK_CATEGORY = LABEL_ATTRIBUTES["risk_category"]


def decode(message: Message, body: bytes, content_type: str) -> None:
    """Parse an OTLP export request into `message`, protobuf or JSON by content type."""
    media = content_type.split(";")[0].strip().lower() or PROTOBUF
    try:
        if media == PROTOBUF:
            message.ParseFromString(body)
        elif media == JSON:
            json_format.Parse(body or b"{}", message, ignore_unknown_fields=True)
        else:
            raise UnsupportedMediaType(f"content-type {media!r}: send {PROTOBUF} or {JSON}")
    except (DecodeError, json_format.ParseError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"body: not an OTLP {type(message).__name__}: {exc}"[:300]) from None


def trace_events(body: bytes, content_type: str = PROTOBUF) -> list[TelemetryEvent]:
    """The GenAI calls and guardrail findings in one `ExportTraceServiceRequest`."""
    request = ExportTraceServiceRequest()
    decode(request, body, content_type)
    return list(_spans(request))


def metric_events(body: bytes, content_type: str = PROTOBUF) -> list[TelemetryEvent]:
    """Token usage in one `ExportMetricsServiceRequest`, as events (see the module's text)."""
    request = ExportMetricsServiceRequest()
    decode(request, body, content_type)
    return list(_points(request))


def value_of(value: AnyValue) -> Any:
    """An OTLP `AnyValue` as a Python value (arrays as lists, key lists as dicts)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [value_of(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def _attributes(items: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    item: KeyValue
    for item in items:
        found[item.key] = value_of(item.value)
    return found


def _first(names: tuple[str, ...], *where: Mapping[str, Any]) -> Any:
    for name in names:
        for attributes in where:
            value = attributes.get(name)
            if value is not None and value != "":
                return value
    return None


def _text(names: tuple[str, ...], *where: Mapping[str, Any]) -> str | None:
    value = _first(names, *where)
    return None if value is None else str(value)


def _nanos(nanos: int) -> datetime:
    return datetime.fromtimestamp(nanos / 1e9, UTC) if nanos else datetime.now(UTC)


def _spans(request: ExportTraceServiceRequest) -> Iterator[TelemetryEvent]:
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                own = _attributes(span.attributes)
                operation = _text(("gen_ai.operation.name",), own)
                finding = score = None
                for event in span.events:
                    if event.name in FINDING_EVENTS and finding is None:
                        attrs = _attributes(event.attributes)
                        finding = _text(RISK_CATEGORY, attrs) or "finding"
                    elif event.name == EVALUATION_EVENT and score is None:
                        attrs = _attributes(event.attributes)
                        raw = attrs.get("gen_ai.evaluation.score.value")
                        score = float(raw) if isinstance(raw, int | float) else None
                if operation is None and "gen_ai.request.model" not in own and finding is None:
                    continue
                if operation is None and finding is not None and "gen_ai.request.model" not in own:
                    operation = "apply_guardrail"
                yield _event(span.start_time_unix_nano, own, resource, operation, finding, score)


def _event(
    nanos: int,
    own: Mapping[str, Any],
    resource: Mapping[str, Any],
    operation: str | None,
    finding: str | None,
    score: float | None,
) -> TelemetryEvent:
    reasons = own.get("gen_ai.response.finish_reasons")
    reason = reasons[0] if isinstance(reasons, list) and reasons else reasons
    reason = str(reason) if reason else None
    digest = _text(ATTRIBUTES["input_digest"], own) or digest_of(_first(ATTRIBUTES["input"], own))
    return TelemetryEvent(
        at=_nanos(nanos),
        caller=_text(ATTRIBUTES["caller"], own, resource) or "unknown",
        api_key=_text(ATTRIBUTES["api_key"], own, resource),
        network=network_of(_text(ATTRIBUTES["network"], own, resource)),
        agent=_text(ATTRIBUTES["agent"], own, resource),
        model=_text(ATTRIBUTES["model"], own, resource),
        model_version=_text(ATTRIBUTES["model_version"], own),
        operation=operation,
        input_tokens=count_of(own.get("gen_ai.usage.input_tokens")),
        output_tokens=count_of(own.get("gen_ai.usage.output_tokens")),
        input_digest=digest,
        finding=finding,
        score=score,
        finish_reason=reason,
        refused=reason in REFUSAL_REASONS,
    )


def _points(request: ExportMetricsServiceRequest) -> Iterator[TelemetryEvent]:
    for resource_metrics in request.resource_metrics:
        resource = _attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name != "gen_ai.client.token.usage":
                    continue
                for point in metric.histogram.data_points:
                    own = _attributes(point.attributes)
                    if own.get("gen_ai.token.type") != "input":
                        continue
                    count = min(int(point.count), MAX_EVENTS_PER_POINT)
                    if count <= 0:
                        continue
                    tokens = int(point.sum) // count
                    base = _event(
                        point.time_unix_nano,
                        own,
                        resource,
                        _text(("gen_ai.operation.name",), own),
                        None,
                        None,
                    )
                    # One request per counted call, alike but for nothing: built once (frozen).
                    call = TelemetryEvent(
                        at=base.at,
                        caller=base.caller,
                        api_key=base.api_key,
                        network=base.network,
                        agent=base.agent,
                        model=base.model,
                        model_version=base.model_version,
                        operation=base.operation,
                        input_tokens=tokens,
                    )
                    for _ in range(count):
                        yield call
