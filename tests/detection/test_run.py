"""End to end: telemetry in, a signed alert at a real Firebreak API, an incident open (a drift
alert's run by the model-drift playbook); the dry run posts nothing; the OTLP receiver takes
what the OpenTelemetry SDK's exporter sends."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from temporalio.client import Client

from activities.providers.local.lab import seed_demo_lab
from orchestrator.alerts.ids import alert_stream
from orchestrator.audit import EventStore
from orchestrator.detection import DetectionEngine
from orchestrator.detection.alerts import AlertSender, DryRunSender, alert_body
from orchestrator.detection.inputs.jsonl import JsonlMapping, jsonl_event
from orchestrator.detection.inputs.sources import parse_input
from orchestrator.detection.runner import DetectRunner
from orchestrator.detection.store import BaselineStore
from orchestrator.domain import Alert
from orchestrator.errors import ConfigError
from orchestrator.principals.service import add_webhook_secret
from orchestrator.settings import Settings
from tests.alerts.test_ingest import assert_running
from tests.detection.streams import deployment
from tests.detection.support import only, run
from tests.support.app import alerts_recorded
from tests.support.incidents import final_state, running_worker
from tests.support.principals import Tokens

CANARY = {
    "at": "2026-11-02T10:00:00Z",
    "caller": "mallory",
    "api_key": "key-mallory",
    "model": "support-bot",
    "marker": "canary:system-prompt-3",
}


def telemetry(tmp_path: Path, *records: dict[str, object]) -> str:
    path = tmp_path / "gateway.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return f"jsonl:{path}"


def sender_to(app: FastAPI, token: str, secret: str | None) -> AlertSender:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return AlertSender("http://firebreak.test", token, secret, "prod", transport=transport)


async def test_a_detection_is_a_signed_alert_that_opens_an_incident(
    app: FastAPI, tokens: Tokens, store: EventStore, temporal: Client, tmp_path: Path
) -> None:
    assert store.keyring is not None
    secret = add_webhook_secret(store.engine, store.keyring, "detector")  # now it must sign
    sender = sender_to(app, tokens.source, secret)
    runner = DetectRunner(DetectionEngine(), sender, BaselineStore(store.engine))
    stats = await runner.run([parse_input(telemetry(tmp_path, CANARY))], JsonlMapping())

    assert (stats.events, stats.detections, stats.undelivered) == (1, 1, 0)
    assert sender.delivered == 1
    answer = sender.answers[0]
    await assert_running(temporal, answer["incidents"])
    alert_id = answer["alerts"][0]["alert_id"]
    events = store.read_stream(alert_stream("detector", alert_id))
    alert = Alert.model_validate(events[0].payload["alert"])
    assert (alert.type, alert.severity, alert.environment) == (
        "prompt_injection",
        "critical",
        "prod",
    )
    assert alert.resources.api_key == "key-mallory"
    assert alert.fingerprint == "detect:injection:caller:mallory"
    assert alert.labels["detector"] == "injection"
    assert "system prompt" in alert.description


async def test_a_drift_alert_is_run_by_the_model_drift_playbook_not_left_in_triage(
    app: FastAPI, tokens: Tokens, store: EventStore, temporal: Client, api_settings: Settings
) -> None:
    lab = seed_demo_lab(api_settings.data_dir)
    before = deployment("2", 600, score=0.9, refusal=0.02, seed=1, offset_days=0, model=lab.model)
    after = deployment("3", 400, score=0.7, refusal=0.02, seed=2, offset_days=1, model=lab.model)
    (detection,) = run(DetectionEngine(only("drift")), before + after)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    sender = AlertSender(
        "http://firebreak.test", tokens.source_dev, None, "dev", transport=transport
    )
    worker_settings = api_settings.model_copy(update={"incident_quiet_seconds": 0})
    async with running_worker(temporal, worker_settings):
        await sender.send(detection)
        await sender.aclose()
        (incident_id,) = sender.answers[0]["incidents"]
        final = await final_state(temporal, incident_id.rpartition(".")[0])

    alert_id = sender.answers[0]["alerts"][0]["alert_id"]
    alert = Alert.model_validate(
        store.read_stream(alert_stream("dev-detector", alert_id))[0].payload["alert"]
    )
    assert (alert.type, alert.resources.model, alert.resources.model_version) == (
        "model_drift",
        lab.model,
        "3",
    )
    assert final.triage is None and final.playbook == "model-drift"
    assert final.outcome == "resolved"
    steps = {s.step_id: s for s in final.steps}
    rollback = steps["rollback-model"].result
    assert rollback is not None
    assert (rollback.outputs["from_version"], rollback.outputs["to_version"]) == ("3", "2")
    evaluated = steps["evaluate-drifted"].result
    assert evaluated is not None and evaluated.outputs["passed"] == "false"


async def test_an_unsigned_detector_is_refused_with_the_reason(
    app: FastAPI, tokens: Tokens, store: EventStore, temporal: Client, tmp_path: Path
) -> None:
    assert store.keyring is not None
    add_webhook_secret(store.engine, store.keyring, "detector")
    runner = DetectRunner(DetectionEngine(), sender_to(app, tokens.source, None))
    with pytest.raises(ConfigError, match="webhook-signature"):
        await runner.run([parse_input(telemetry(tmp_path, CANARY))], JsonlMapping())
    assert alerts_recorded(store) == 0


async def test_a_dry_run_logs_the_alert_and_posts_nothing(
    app: FastAPI,
    tokens: Tokens,
    store: EventStore,
    temporal: Client,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = DryRunSender("prod")
    runner = DetectRunner(DetectionEngine(), sender)
    stats = await runner.run([parse_input(telemetry(tmp_path, CANARY))], JsonlMapping())
    assert stats.detections == 1
    assert [body["type"] for body in sender.sent] == ["prompt_injection"]
    assert any("dry run: would raise" in r.message for r in caplog.records)
    assert alerts_recorded(store) == 0


async def test_a_retry_reuses_the_alert_id_so_the_api_answers_it_once(
    app: FastAPI, tokens: Tokens, store: EventStore, temporal: Client, tmp_path: Path
) -> None:
    engine = DetectionEngine()
    (detection,) = engine.observe(jsonl_event(CANARY, JsonlMapping()))
    sender = sender_to(app, tokens.source, None)
    await sender.send(detection)
    await sender.send(detection)
    await sender.aclose()
    first, second = sender.answers
    assert first["incidents"] == second["incidents"]
    assert [a["duplicate"] for a in (*first["alerts"], *second["alerts"])] == [False, True]
    assert alerts_recorded(store) == 1
    assert alert_body(detection, "prod")["id"] == first["alerts"][0]["alert_id"]


async def test_the_receiver_takes_spans_from_the_sdk_exporter() -> None:
    sender = DryRunSender("prod")
    runner = DetectRunner(DetectionEngine(), sender)
    stop = asyncio.Event()
    listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        runner.run(
            [parse_input("otlp://127.0.0.1:0")],
            JsonlMapping(),
            stop=stop,
            on_listening=lambda _host, port: listening.set_result(port),
        )
    )
    port = await asyncio.wait_for(listening, 30)
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
    provider = TracerProvider(resource=Resource.create({"service.name": "chat-api"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("genai")

    def emit() -> None:
        for i in range(6):
            with tracer.start_as_current_span("apply_guardrail") as span:
                span.set_attribute("user.id", "mallory")
                span.add_event(
                    "gen_ai.security.finding",
                    {"gen_ai.security.risk.category": "prompt_injection", "n": i},
                )
        provider.shutdown()

    await asyncio.to_thread(emit)
    for _ in range(300):
        if runner.stats.events >= 6:
            break
        await asyncio.sleep(0.05)
    stop.set()
    stats = await asyncio.wait_for(task, 30)
    assert stats.events == 6
    assert [body["fingerprint"] for body in sender.sent] == ["detect:injection:caller:mallory"]


async def test_the_receiver_checks_its_token_and_refuses_what_it_cannot_read() -> None:
    runner = DetectRunner(DetectionEngine(), DryRunSender("prod"))
    stop = asyncio.Event()
    listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        runner.run(
            [parse_input("otlp://127.0.0.1:0")],
            JsonlMapping(),
            stop=stop,
            otlp_token="s3cret",
            on_listening=lambda _host, port: listening.set_result(port),
        )
    )
    port = await asyncio.wait_for(listening, 30)
    body = gzip.compress(ExportTraceServiceRequest().SerializeToString())
    protobuf = {"content-type": "application/x-protobuf", "content-encoding": "gzip"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        anonymous = await client.post("/v1/traces", content=body, headers=protobuf)
        wrong = await client.post(
            "/v1/traces", content=body, headers={**protobuf, "authorization": "Bearer nope"}
        )
        good = {**protobuf, "authorization": "Bearer s3cret"}
        accepted = await client.post("/v1/traces", content=body, headers=good)
        garbage = await client.post("/v1/metrics", content=b"\x00\xff", headers=good)
    stop.set()
    await asyncio.wait_for(task, 30)
    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert accepted.status_code == 200
    assert accepted.headers["content-type"] == "application/x-protobuf"
    assert garbage.status_code == 400 and "gzip" in garbage.text


async def test_a_receiver_beyond_loopback_needs_a_token() -> None:
    runner = DetectRunner(DetectionEngine(), DryRunSender("prod"))
    with pytest.raises(ConfigError, match="FIREBREAK_DETECT_OTLP_TOKEN"):
        await runner.run([parse_input("otlp://0.0.0.0:0")], JsonlMapping())


async def test_a_port_in_use_is_a_configuration_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        runner = DetectRunner(DetectionEngine(), DryRunSender("prod"))
        with pytest.raises(ConfigError, match="cannot listen there"):
            await runner.run([parse_input(f"otlp://127.0.0.1:{port}")], JsonlMapping())
