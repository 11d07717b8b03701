"""OpenTelemetry GenAI security findings over OTLP/HTTP: each finding of a request is one
alert, routed by the built-in OWASP mapping; everything else in the request is ignored; the
collector's exporter paths answer as OTLP/HTTP asks; protobuf is a clear 415."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from orchestrator.alerts.formats import otlp
from orchestrator.audit import EventStore
from orchestrator.domain import Alert
from orchestrator.errors import InvalidInput
from orchestrator.routing.service import load_table
from tests.support.app import bearer, fixture_bytes, fixture_json
from tests.support.principals import Tokens


def routed(body: Any) -> list[Alert]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    parsed = otlp.normalise(raw, {"content-type": "application/json"}, "guard", datetime.now(UTC))
    return [item.alert for item in load_table(None).apply("otlp", parsed)]


def test_a_log_record_finding_in_current_names_becomes_one_routed_alert() -> None:
    [alert] = routed(fixture_bytes("otlp_logs.json"))  # the INFO record is not a finding
    assert (alert.route, alert.type, alert.severity, alert.environment) == (
        "otel-genai-security",
        "prompt_injection",
        "medium",  # severityNumber 13 (WARN); the current conventions carry no severity
        "prod",  # deployment.environment.name: production
    )
    assert alert.resources.model_dump(exclude_none=True) == {
        "model": "gpt-4o-2024-08-06",
        "agent": "support-bot",
    }
    assert alert.labels["policy_id"] == "pi-indirect-v2"
    assert alert.labels["risk_score"] == "0.97"
    assert alert.labels["verdict"] == "deny"
    assert alert.labels["caller"] == "customer-4471"
    assert alert.title == "prompt_injection (deny) by Prompt Shield"
    assert alert.description == "Prompt injection attempt detected"
    assert alert.started_at == datetime(2026, 11, 24, 6, 5, 12, 412000, tzinfo=UTC)


def test_span_events_in_the_earlier_names_take_the_guardrail_span_attributes() -> None:
    tool, toxicity = routed(fixture_bytes("otlp_traces.json"))
    assert (tool.type, tool.severity, tool.environment) == (
        "agent_tool_compromise",  # excessive_agency (LLM06)
        "critical",
        "staging",
    )
    assert tool.resources.model_dump(exclude_none=True) == {
        "model": "planner-llm",
        "agent": "travel-planner",
        "tool": "transfer_funds",
    }
    assert tool.labels["verdict"] == "deny"  # gen_ai.security.decision.type of the span
    assert tool.description == "Action exceeds agent permission scope"
    # A category with no playbook keeps its name (and waits in triage); one fingerprint per
    # category, policy, agent and model: a second finding of its own is another condition.
    assert (toxicity.type, toxicity.severity) == ("toxicity", "low")
    assert tool.fingerprint != toxicity.fingerprint
    assert len({tool.id, toxicity.id}) == 2


def finding(category: str, **extra: Any) -> dict[str, Any]:
    attributes = [
        {"key": "gen_ai.guardrail.security.risk.category", "value": {"stringValue": category}},
        *({"key": k, "value": v} for k, v in extra.items()),
    ]
    return {
        "timeUnixNano": "1795500312412000000",
        "eventName": "gen_ai.guardrail.security.finding",
        "attributes": attributes,
    }


def logs(*records: dict[str, Any], resource: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "resourceLogs": [
            {"resource": {"attributes": resource or []}, "scopeLogs": [{"logRecords": records}]}
        ]
    }


@pytest.mark.parametrize(
    ("category", "incident_type"),
    [
        ("prompt_injection", "prompt_injection"),
        ("jailbreak", "prompt_injection"),
        ("sensitive_info_disclosure", "model_inversion"),
        ("data_and_model_poisoning", "data_poisoning"),
        ("excessive_agency", "agent_tool_compromise"),
        ("unbounded_consumption", "api_key_abuse"),
        ("supply_chain", "supply_chain"),
        ("custom:financial_advice_violation", "custom_financial_advice_violation"),
    ],
)
def test_owasp_categories_map_to_the_built_in_incident_types(
    category: str, incident_type: str
) -> None:
    [alert] = routed(logs(finding(category)))
    assert alert.type == incident_type


def test_the_older_event_name_attribute_counts_and_hostile_text_stays_data() -> None:
    record = finding("prompt_injection")
    record["eventName"] = ""
    hostile = "<script>alert(1)</script>"
    record["attributes"] += [
        {"key": "event.name", "value": {"stringValue": "gen_ai.security.finding"}},
        {"key": "gen_ai.guardrail.verdict.reason", "value": {"stringValue": hostile}},
        {"key": "gen_ai.agent.name", "value": {"stringValue": hostile}},
    ]
    [alert] = routed(logs(record))
    assert alert.description == hostile
    assert alert.resources.agent == hostile


def test_bad_values_are_422s_naming_the_field() -> None:
    record = finding("prompt_injection")
    record["timeUnixNano"] = "yesterday"
    with pytest.raises(InvalidInput) as raised:
        routed(logs(record))
    assert raised.value.field == "resourceLogs.0.scopeLogs.0.logRecords.0.timeUnixNano"
    with pytest.raises(InvalidInput) as raised:
        routed({"resourceLogs": [{"scopeLogs": [{"logRecords": "nope"}]}]})
    assert raised.value.field == "resourceLogs.0.scopeLogs.0.logRecords"
    record = finding("prompt_injection")
    record["attributes"][0]["value"] = "prompt_injection"  # not an AnyValue object
    with pytest.raises(InvalidInput) as raised:
        routed(logs(record))
    assert raised.value.field == "resourceLogs.0.scopeLogs.0.logRecords.0.attributes.0.value"
    many = logs(*(finding("jailbreak") for _ in range(otlp.MAX_FINDINGS + 1)))
    with pytest.raises(InvalidInput, match="more than 500 findings"):
        routed(many)


async def post_otlp(
    http: httpx.AsyncClient, path: str, body: bytes, token: str, content_type: str
) -> httpx.Response:
    return await http.post(
        f"/v1/alerts/otlp{path}",
        content=body,
        headers={**bearer(token), "content-type": content_type},
    )


async def test_the_exporter_paths_record_each_finding_once(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore
) -> None:
    traces = fixture_bytes("otlp_traces.json")
    first = await post_otlp(http, "/v1/traces", traces, tokens.source, "application/json")
    assert first.status_code == 200, first.text  # OTLP/HTTP: 200 on success
    answer = first.json()
    assert len(answer["alerts"]) == 2 and len(answer["incidents"]) == 2
    again = await post_otlp(http, "/v1/traces", traces, tokens.source, "application/json")
    assert [a["duplicate"] for a in again.json()["alerts"]] == [True, True]
    assert again.json()["incidents"] == answer["incidents"]

    logs_answer = await post_otlp(
        http, "/v1/logs", fixture_bytes("otlp_logs.json"), tokens.source, "application/json"
    )
    assert logs_answer.status_code == 200, logs_answer.text
    [accepted] = logs_answer.json()["alerts"]
    via_format = await post_otlp(
        http, "", fixture_bytes("otlp_logs.json"), tokens.source, "application/json"
    )
    assert via_format.status_code == 202  # the format's own URL answers like every format
    assert via_format.json()["alerts"][0]["incident_id"] == accepted["incident_id"]


async def test_requests_without_findings_protobuf_and_wrong_roles(
    http: httpx.AsyncClient, tokens: Tokens
) -> None:
    quiet = fixture_json("otlp_logs.json")
    records = quiet["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    quiet["resourceLogs"][0]["scopeLogs"][0]["logRecords"] = records[1:]
    nothing = await post_otlp(
        http, "/v1/logs", json.dumps(quiet).encode(), tokens.source, "application/json"
    )
    assert nothing.status_code == 200, nothing.text
    assert nothing.json() == {"incidents": [], "alerts": []}

    binary = await post_otlp(http, "/v1/logs", b"\x0a\x00", tokens.source, "application/x-protobuf")
    assert binary.status_code == 415
    assert "encoding: json" in binary.json()["detail"]

    text = await post_otlp(http, "/v1/logs", b"{}", tokens.source, "text/plain")
    assert text.status_code == 415
    responder = await post_otlp(
        http, "/v1/logs", fixture_bytes("otlp_logs.json"), tokens.responder, "application/json"
    )
    assert responder.status_code == 403
