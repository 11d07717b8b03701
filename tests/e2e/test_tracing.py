"""Issue #19 §1: one alert delivery is one trace, from the API process through Temporal to the
worker process's provider call, exported over real OTLP/HTTP protobuf.

`firebreak api` and `firebreak worker` run as separate processes (tests/e2e/topology.py) on a
file-backed Temporal dev server, configured by `OTEL_*` variables only, exporting to a receiver
on loopback that decodes the wire format (`tests/support/otlp.py`). The keys provider talks to
a LiteLLM admin API on loopback. A responder's approval is its own trace, linked from the
incident's. No span attribute may hold the alert's text or any credential of the run.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from orchestrator.alerts.signatures import sign
from orchestrator.db import make_engine
from orchestrator.domain import Environment, Role
from orchestrator.principals.service import add_webhook_secret, create_principal, decode_secret
from orchestrator.security.keyring import KeyRing
from tests.activities.providers.fake_gateways import TOKEN as GATEWAY_TOKEN
from tests.activities.providers.fake_gateways import LiteLLMGateway
from tests.e2e.topology import Topology, topology
from tests.support.otlp import Link, ReceivedSpan, otlp_receiver
from tests.support.providers import serving

pytestmark = pytest.mark.slow

MARKER = "zq7-alert-text-marker"
"""In the alert's title, description, labels and the webhook URL's query: never in a span."""
PLAYBOOK = """\
id: traced-key-leak
title: Leaked key (tracing test)
description: Revoke the key at once, restore it when a responder approves.
alert_types: [traced_key_leak]
phases:
  - name: containment
    steps:
      - id: revoke-key
        action: keys.revoke
        params: {key_id: "{{ alert.resources.api_key }}"}
  - name: recovery
    steps:
      - id: restore-key
        action: keys.restore
        params: {key_id: "{{ alert.resources.api_key }}"}
        approval:
          default: {mode: one, deadline_seconds: 3600, escalate_to: oncall, on_timeout: escalate}
"""
WEBHOOK = "POST /v1/alerts/{format}"
DECISION = "POST /v1/incidents/{incident_id}/steps/{step_id}/decisions"


def _wait(check: object, seconds: float = 90.0) -> bool:
    assert callable(check)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return bool(check())


def _credentials(shape: Topology) -> tuple[str, str, str]:
    """A signing prod detector's token and webhook secret, and a prod responder's token."""
    engine = make_engine(shape.database_url)
    try:
        source = create_principal(engine, "traced-detector", Role.source, [Environment.prod])[1]
        secret = add_webhook_secret(
            engine, KeyRing.load_or_create(shape.keyring), "traced-detector"
        )
        responder = create_principal(
            engine, "traced-responder", Role.responder, [Environment.prod]
        )[1]
    finally:
        engine.dispose()
    return source, secret, responder


def _one(spans: list[ReceivedSpan], **match: str) -> ReceivedSpan:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, [(s.service, s.name) for s in spans])
    return found[0]


def _ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[str]:
    """Names from `span` up to its trace's root, following parent span ids."""
    by_id = {s.span_id: s for s in spans}
    names = [span.name]
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        names.append(span.name)
    return names


@pytest.mark.timeout(420)
def test_one_delivery_is_one_trace_across_the_api_and_the_worker(
    tmp_path: Path, pg_url: str
) -> None:
    gateway = LiteLLMGateway()
    key = gateway.add_key()
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "traced.yaml").write_text(PLAYBOOK)
    with otlp_receiver() as receiver, serving(gateway) as admin_api:
        shared = {
            "FIREBREAK_KEYS_PROVIDER": "litellm",
            "FIREBREAK_GATEWAY_URL": admin_api.url,
            "FIREBREAK_GATEWAY_TOKEN_ENV": "TRACED_GATEWAY_TOKEN",
            "TRACED_GATEWAY_TOKEN": GATEWAY_TOKEN,
            "FIREBREAK_TASK_QUEUE": "traced",
            "FIREBREAK_PLAYBOOKS_DIR": str(playbooks),
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            # Nothing leaves before the processes stop: what arrives is what a graceful stop
            # flushed (a batch fills at 512 spans; this run makes far fewer).
            "OTEL_BSP_SCHEDULE_DELAY": "600000",
        }
        with topology(tmp_path / "shape", pg_url, shared, apis=1, workers=1) as shape:
            source, secret, responder = _credentials(shape)
            api = shape.apis[0].url
            body = json.dumps(
                {
                    "id": f"traced-{uuid.uuid4().hex[:8]}",
                    "type": "traced_key_leak",
                    "severity": "high",
                    "environment": "prod",
                    "title": f"Leaked key {MARKER}",
                    "description": f"The agent printed its key: {MARKER}",
                    "labels": {"note": MARKER},
                    "resources": {"api_key": key},
                }
            ).encode()
            webhook_id, now = f"msg_{uuid.uuid4().hex}", int(time.time())
            signature = sign(decode_secret(secret), webhook_id, now, body)
            answer = httpx.post(
                f"{api}/v1/alerts/generic",
                params={"note": MARKER},
                content=body,
                headers={
                    "Authorization": f"Bearer {source}",
                    "content-type": "application/json",
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(now),
                    "webhook-signature": signature,
                },
                timeout=30,
            )
            assert answer.status_code == 202, answer.text
            (incident_id,) = answer.json()["incidents"]
            assert _wait(lambda: not gateway.is_active(key)), "the key was never revoked"

            asked = {"Authorization": f"Bearer {responder}"}

            def waiting() -> bool:
                listed = httpx.get(f"{api}/v1/approvals", headers=asked, timeout=10).json()
                return any(p["incident_id"] == incident_id for p in listed["items"])

            assert _wait(waiting), "the restore step never asked for approval"
            decided = httpx.post(
                f"{api}/v1/incidents/{incident_id}/steps/restore-key/decisions",
                json={"decision": "approve", "reason": "rotated upstream"},
                headers=asked,
                timeout=30,
            )
            assert decided.status_code in (200, 202), decided.text
            assert _wait(lambda: gateway.is_active(key)), "the key was never restored"
            assert receiver.requests == 0
        # `firebreak api` and `firebreak worker` were stopped with SIGTERM: each flushed its
        # batch on the way out.
        spans = receiver.received()
        assert receiver.requests >= 2

    webhook = _one(spans, name=WEBHOOK, kind="server")
    trace = [s for s in spans if s.trace_id == webhook.trace_id]
    assert webhook.service == "firebreak-api" and webhook.parent_span_id == ""
    assert {s.service for s in trace} == {"firebreak-api", "firebreak-worker"}

    ingest = _one(trace, name="firebreak.alerts.ingest")
    assert ingest.parent_span_id == webhook.span_id
    assert ingest.attributes["firebreak.alert.format"] == "generic"
    assert ingest.attributes["firebreak.alert.type"] == ["traced_key_leak"]
    assert ingest.attributes["firebreak.alert.severity"] == ["high"]
    assert ingest.attributes["firebreak.incident.id"] == [incident_id]

    started = _one(trace, name="SignalWithStartWorkflow:Incident")
    assert started.service == "firebreak-api" and started.kind == "client"
    assert _ancestors(started, trace)[1:] == ["firebreak.alerts.ingest", WEBHOOK]
    run = _one(trace, name="RunWorkflow:Incident")
    assert run.service == "firebreak-worker" and run.parent_span_id == started.span_id

    # The containment step: scheduled by the workflow task, run by the worker, and its call to
    # the gateway's admin API, each the child of the one before.
    revoke = _one(trace, name="RunActivity:keys.revoke")
    assert _ancestors(revoke, trace) == [
        "RunActivity:keys.revoke",
        "StartActivity:keys.revoke",
        "SignalWithStartWorkflow:Incident",
        "firebreak.alerts.ingest",
        WEBHOOK,
    ]
    step = {
        "firebreak.incident.id": incident_id,
        "firebreak.step.id": "revoke-key",
        "firebreak.action": "keys.revoke",
    }
    assert step.items() <= revoke.attributes.items()
    calls = {
        s.attributes.get("http.url", s.attributes.get("url.full")): s
        for s in trace
        if s.parent_span_id == revoke.span_id and s.kind == "client"
    }
    # LiteLLM's provider reads the key's state, then blocks it.
    assert sorted(calls) == [f"{admin_api.url}/key/block", f"{admin_api.url}/key/info"]
    for call in calls.values():
        assert call.service == "firebreak-worker"
        assert step.items() <= call.attributes.items()

    # The approval is a trace of its own; the incident's trace links to it where the workflow
    # applied it, and the approved step's activity stays in the incident's trace.
    approval = _one(spans, name=DECISION, kind="server")
    assert approval.trace_id != webhook.trace_id
    decide = _one(spans, name="firebreak.approvals.decide")
    assert decide.parent_span_id == approval.span_id
    assert decide.attributes["firebreak.incident.id"] == incident_id
    assert decide.attributes["firebreak.step.id"] == "restore-key"
    assert decide.attributes["firebreak.decision"] == "approve"
    # Linked both ways: the decision to the span that started the incident's workflow ...
    assert decide.links == (Link(webhook.trace_id, started.span_id),)
    # ... and the incident's trace, where the workflow applied it, back to the decision.
    update = _one(spans, name="StartWorkflowUpdate:decide")
    assert update.parent_span_id == decide.span_id
    handled = _one(trace, name="HandleUpdate:decide")
    assert handled.links == (Link(approval.trace_id, update.span_id),)
    restore = _one(trace, name="RunActivity:keys.restore")
    assert restore.attributes["firebreak.step.id"] == "restore-key"
    notified = [s for s in trace if s.name == "RunActivity:notify.send"]
    assert notified and all(s.attributes["firebreak.incident.id"] == incident_id for s in notified)

    secrets = {
        MARKER: "alert text",
        source: "source token",
        responder: "responder token",
        secret: "webhook secret",
        signature.removeprefix("v1,"): "webhook signature",
        GATEWAY_TOKEN: "gateway admin token",
        key: "the leaked key itself",
    }
    leaks = [
        (s.service, s.name, name, what)
        for s in spans
        for name, value in s.attributes.items()
        for secret_value, what in secrets.items()
        if secret_value in str(value)
    ]
    assert leaks == []
