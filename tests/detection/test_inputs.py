"""Adapters on the real wire formats: OTLP protobuf and JSON built with opentelemetry-proto,
LiteLLM spend-log rows as the proxy writes them, mapped JSON Lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Histogram, HistogramDataPoint, Metric

from orchestrator.detection.inputs.jsonl import JsonlMapping, jsonl_event
from orchestrator.detection.inputs.litellm import spend_log_event
from orchestrator.detection.inputs.otlp import metric_events, trace_events
from orchestrator.detection.inputs.sources import Parser, parse_input
from orchestrator.errors import ConfigError, InvalidInput, UnsupportedMediaType

NANOS = 1_764_590_400_000_000_000  # 2025-12-01T12:00:00Z


def kv(key: str, value: object) -> KeyValue:
    if isinstance(value, list):
        return KeyValue(
            key=key,
            value=AnyValue(
                array_value=ArrayValue(values=[AnyValue(string_value=v) for v in value])
            ),
        )
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def traces() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend([kv("service.name", "support-api")])
    spans = resource_spans.scope_spans.add().spans
    chat = spans.add(name="chat gpt-4o", start_time_unix_nano=NANOS)
    chat.attributes.extend(
        [
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.request.model", "gpt-4o"),
            kv("gen_ai.response.model", "gpt-4o-2024-08-06"),
            kv("gen_ai.usage.input_tokens", 812),
            kv("gen_ai.usage.output_tokens", 230),
            kv("gen_ai.response.finish_reasons", ["content_filter"]),
            kv("enduser.id", "alice"),
            kv("client.address", "203.0.113.45"),
            kv("gen_ai.agent.id", "agent-7"),
            kv("api_key.id", "key-alice"),
        ]
    )
    evaluation = chat.events.add(name="gen_ai.evaluation.result", time_unix_nano=NANOS)
    evaluation.attributes.extend(
        [kv("gen_ai.evaluation.name", "relevance"), kv("gen_ai.evaluation.score.value", 0.42)]
    )
    guard = spans.add(name="apply_guardrail", start_time_unix_nano=NANOS + 1000)
    guard.attributes.extend([kv("user.id", "alice")])
    finding = guard.events.add(name="gen_ai.security.finding", time_unix_nano=NANOS + 1000)
    finding.attributes.extend([kv("gen_ai.security.risk.category", "prompt_injection")])
    spans.add(name="SELECT orders", start_time_unix_nano=NANOS)  # not GenAI: ignored
    return request


def test_genai_spans_and_guardrail_findings_from_protobuf() -> None:
    events = trace_events(traces().SerializeToString(), "application/x-protobuf")
    assert len(events) == 2
    chat, guard = events
    assert chat.at == datetime(2025, 12, 1, 12, tzinfo=UTC)
    assert (chat.caller, chat.api_key, chat.agent) == ("alice", "key-alice", "agent-7")
    assert chat.network == "203.0.113.0/24"
    assert (chat.model, chat.model_version, chat.operation) == (
        "gpt-4o",
        "gpt-4o-2024-08-06",
        "chat",
    )
    assert (chat.input_tokens, chat.output_tokens) == (812, 230)
    assert chat.finish_reason == "content_filter" and chat.refused
    assert chat.score == pytest.approx(0.42)
    assert guard.caller == "alice"
    assert guard.finding == "prompt_injection"
    assert guard.operation == "apply_guardrail"


def test_otlp_json_reads_the_same_as_protobuf() -> None:
    body = json_format.MessageToJson(traces()).encode()
    assert trace_events(body, "application/json") == trace_events(
        traces().SerializeToString(), "application/x-protobuf"
    )


def test_token_usage_metrics_count_requests_once() -> None:
    request = ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    for kind, total in (("input", 3000), ("output", 900)):
        metric = Metric(name="gen_ai.client.token.usage", histogram=Histogram())
        point = HistogramDataPoint(count=3, sum=total, time_unix_nano=NANOS)
        point.attributes.extend(
            [
                kv("gen_ai.token.type", kind),
                kv("gen_ai.request.model", "gpt-4o"),
                kv("user.id", "bob"),
            ]
        )
        metric.histogram.data_points.append(point)
        metrics.append(metric)
    events = metric_events(request.SerializeToString())
    assert [(e.caller, e.model, e.input_tokens) for e in events] == [("bob", "gpt-4o", 1000)] * 3


def test_unreadable_otlp_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="ExportTraceServiceRequest"):
        trace_events(b"\xff\xff\xff", "application/x-protobuf")
    with pytest.raises(UnsupportedMediaType, match="x-protobuf"):
        trace_events(b"", "text/plain")


# A row as LiteLLM's proxy writes it to LiteLLM_SpendLogs and returns it from /spend/logs:
# metadata as JSON text, the key as its hash.
SPEND_LOG = {
    "request_id": "chatcmpl-6f1d2a",
    "call_type": "acompletion",
    "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
    "spend": 0.00042,
    "total_tokens": 1042,
    "prompt_tokens": 812,
    "completion_tokens": 230,
    "startTime": "2025-12-01T12:00:00.123000",
    "endTime": "2025-12-01T12:00:01.456000",
    "completionStartTime": "2025-12-01T12:00:00.700000",
    "model": "gpt-4o-2024-08-06",
    "model_id": "a1b2c3",
    "model_group": "gpt-4o",
    "api_base": "https://api.openai.com/v1",
    "user": "alice",
    "metadata": json.dumps(
        {
            "user_api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
            "user_api_key_alias": "support-prod",
            "user_api_key_user_id": "alice",
            "requester_ip_address": "198.51.100.23",
            "status": "success",
            "guardrail_information": {
                "guardrail_name": "lakera-prompt-guard",
                "guardrail_status": "guardrail_intervened",
                "violation_categories": ["prompt_injection"],
            },
        }
    ),
    "cache_hit": "False",
    "cache_key": "9f86d081884c7d659a2feaa0c55ad015",
    "request_tags": "[]",
    "team_id": None,
    "end_user": "",
    "requester_ip_address": "",
    "messages": "{}",
    "response": {"choices": [{"finish_reason": "stop", "index": 0}]},
    "status": "success",
}


def test_a_litellm_spend_log_row() -> None:
    event = spend_log_event(SPEND_LOG)
    assert event.at == datetime(2025, 12, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert event.caller == "alice"
    assert event.api_key == SPEND_LOG["api_key"]
    assert event.network == "198.51.100.0/24"  # from metadata: the column was empty
    assert (event.model, event.model_version) == ("gpt-4o", "gpt-4o-2024-08-06")
    assert (event.input_tokens, event.output_tokens) == (812, 230)
    assert event.input_digest == SPEND_LOG["cache_key"]  # messages not logged: the cache key
    assert event.finding == "prompt_injection"
    assert event.finish_reason == "stop" and not event.refused


def test_a_spend_log_row_without_a_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match="startTime"):
        spend_log_event({**SPEND_LOG, "startTime": None})


def test_json_lines_through_a_mapping() -> None:
    mapping = JsonlMapping(
        at="ts",
        caller="consumer.username",
        api_key="consumer.key_id",
        network="client_ip",
        model="request.body.model",
        input_tokens="usage.prompt",
        output_tokens="usage.completion",
        input_digest="",
        input_text="request.body.prompt",
        finding="guard.category",
    )
    record = {
        "ts": 1764590400123,
        "consumer": {"username": "svc-batch", "key_id": "k-9"},
        "client_ip": "2001:db8:7:1::9",
        "request": {"body": {"model": "llama-3-70b", "prompt": "list every customer"}},
        "usage": {"prompt": 40, "completion": 900},
        "guard": {"category": "data_exfiltration"},
    }
    event = jsonl_event(record, mapping)
    assert event.at == datetime(2025, 12, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert (event.caller, event.api_key, event.network) == ("svc-batch", "k-9", "2001:db8:7::/48")
    assert (event.model, event.input_tokens, event.output_tokens) == ("llama-3-70b", 40, 900)
    assert event.input_digest is not None and "customer" not in event.input_digest
    assert event.finding == "data_exfiltration"


def test_bad_lines_are_counted_and_skipped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "log.jsonl"
    path.write_text("")
    parser = Parser(parse_input(f"jsonl:{path}"), JsonlMapping())
    good = json.dumps({"at": "2025-12-01T12:00:00Z", "caller": "a"})
    events = parser.events([good, "{not json", json.dumps({"at": "2025-12-01T12:00:00Z"}), ""])
    assert [e.caller for e in events] == ["a"]
    assert parser.errors == 2


@pytest.mark.parametrize(
    "spec", ["otlp://nowhere", "kafka:topic", "jsonl:/no/such/file", "litellm:"]
)
def test_an_input_spec_mistake_says_what_is_expected(spec: str) -> None:
    with pytest.raises(ConfigError, match="--input"):
        parse_input(spec)
