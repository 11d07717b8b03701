"""OTLP/HTTP metrics: a real receiver on loopback decodes `ExportMetricsServiceRequest`s and
finds every metric of `/metrics` in them, with the same names, labels and values; off unless
the standard variables configure it, and then nothing of the SDK is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from orchestrator import db
from orchestrator.api.metrics import ALERTS_RECEIVED, build_registry
from orchestrator.audit import CheckpointSigner, EventStore
from orchestrator.errors import ConfigError
from orchestrator.incidents.projector import IncidentProjector
from orchestrator.telemetry.metrics import MetricsExport, export_config
from tests.support.otlp import otlp_receiver
from tests.support.stories import Story

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
MOVING = {"firebreak_audit_checkpoint_age_seconds"}  # grows between a scrape and an export


def attributes(pairs: list[KeyValue]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((kv.key, kv.value.string_value) for kv in pairs))


def decode(body: bytes) -> tuple[dict[str, str], Samples, dict[str, str]]:
    """(resource attributes, samples as Prometheus names them, descriptions) of one request."""
    request = ExportMetricsServiceRequest.FromString(body)
    [resource_metrics] = request.resource_metrics
    resource = dict(attributes(list(resource_metrics.resource.attributes)))
    samples: Samples = {}
    docs: dict[str, str] = {}
    for scope in resource_metrics.scope_metrics:
        assert scope.scope.name == "firebreak"
        for metric in scope.metrics:
            docs[metric.name] = metric.description
            kind = metric.WhichOneof("data")
            if kind == "sum":
                assert metric.sum.is_monotonic
                cumulative = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
                assert metric.sum.aggregation_temporality == cumulative
                for point in metric.sum.data_points:
                    samples[(f"{metric.name}_total", attributes(list(point.attributes)))] = (
                        point.as_double
                    )
            elif kind == "gauge":
                for point in metric.gauge.data_points:
                    samples[(metric.name, attributes(list(point.attributes)))] = point.as_double
            else:
                assert kind == "histogram", kind
                for point in metric.histogram.data_points:
                    labels = attributes(list(point.attributes))
                    assert not point.HasField("min") and not point.HasField("max")
                    running = 0
                    edges = [*point.explicit_bounds, float("inf")]
                    for edge, count in zip(edges, point.bucket_counts, strict=True):
                        running += count
                        le = tuple(sorted([*labels, ("le", floatToGoString(edge))]))
                        samples[(f"{metric.name}_bucket", le)] = running
                    samples[(f"{metric.name}_count", labels)] = point.count
                    samples[(f"{metric.name}_sum", labels)] = point.sum
    return resource, samples, docs


def scraped(text: str) -> tuple[Samples, dict[str, str]]:
    families = list(text_string_to_metric_families(text))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families
        for s in f.samples
        if not s.name.endswith("_created")
    }
    return samples, {f.name: f.documentation for f in families}


@pytest.fixture
def store(sqlite_url: str, tmp_path: Path) -> EventStore:
    db.upgrade(sqlite_url)
    store = EventStore(db.make_engine(sqlite_url), signer=CheckpointSigner(tmp_path / "k.pem"))
    Story(store).open().contain().request("q").approve("q", "bob", ["bob"]).run("q").close()
    Story(store, environment="staging", severity="critical").open().contain().request("q")
    store.checkpoint()
    IncidentProjector(store.engine, store).catch_up()
    ALERTS_RECEIVED.labels(format="generic", outcome="accepted").inc(2)
    return store


@pytest.mark.parametrize("variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "METRICS_ENDPOINT"])
def test_the_registry_arrives_over_otlp_as_it_is_scraped(
    store: EventStore, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    registry = build_registry(store.engine)
    with otlp_receiver() as receiver:
        if variable == "METRICS_ENDPOINT":  # the signal's own variable is the full URL
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", f"{receiver.url}/otlp/m")
            path = "/otlp/m"
        else:
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
            path = "/v1/metrics"
        monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "200")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
        config = export_config()
        assert config is not None and config.interval_seconds == 0.2
        export = MetricsExport(registry, "api", config).start()
        try:
            periodic = receiver.next()  # the interval's export, before any stop
            expected, docs = scraped(generate_latest(registry).decode())
        finally:
            export.stop()
        final = receiver.next()  # the last export at stop

    for received in (periodic, final):
        assert received.path == path
        assert received.content_type == "application/x-protobuf"
        resource, got, got_docs = decode(received.body)
        assert resource["service.name"] == "firebreak"
        assert resource["firebreak.process"] == "api"
        assert resource["deployment.environment"] == "test"
        assert resource["service.instance.id"]
        assert set(got) == set(expected)
        steady = {k: v for k, v in expected.items() if k[0] not in MOVING}
        assert {k: got[k] for k in steady} == steady
        assert got_docs == {name: docs[name] for name in got_docs}

    # The figures a dashboard needs are among them, labelled as on /metrics.
    def value(name: str, **labels: str) -> float:
        return expected[(name, tuple(sorted(labels.items())))]

    assert value("firebreak_alerts_received_total", format="generic", outcome="accepted") >= 2
    assert value("firebreak_incidents", severity="critical", status="awaiting_decision") == 1
    assert value("firebreak_approvals_waiting", environment="staging", reason="approval") == 1
    assert value("firebreak_approval_wait_seconds_count", environment="prod") == 1
    assert value("firebreak_audit_append_seconds_count") > 0


def test_off_by_default_and_off_when_the_standard_switches_say_so() -> None:
    assert export_config({}) is None
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert export_config(endpoint) is not None
    assert export_config({**endpoint, "OTEL_SDK_DISABLED": "true"}) is None
    assert export_config({**endpoint, "OTEL_METRICS_EXPORTER": "none"}) is None
    assert export_config({**endpoint, "OTEL_METRICS_EXPORTER": "prometheus"}) is None
    config = export_config({**endpoint, "OTEL_METRICS_EXPORTER": "otlp,prometheus"})
    assert config is not None and config.interval_seconds == 60.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_PROTOCOL": "x"},
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL='grpc': Firebreak exports metrics over OTLP/HTTP"
            " protobuf only; set it to 'http/protobuf' (or unset it)",
        ),
        (
            {"OTEL_METRIC_EXPORT_INTERVAL": "soon"},
            "OTEL_METRIC_EXPORT_INTERVAL: expected a positive number of milliseconds, got 'soon'",
        ),
        (
            {"OTEL_METRICS_EXPORTER": "otlp,console"},
            "OTEL_METRICS_EXPORTER: unknown exporter 'console' (Firebreak has otlp, prometheus"
            " (its /metrics, always on) and none)",
        ),
    ],
)
def test_a_setting_that_would_be_ignored_is_an_error(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        export_config({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", **extra})
    assert raised.value.detail == message


def test_nothing_of_the_sdk_is_imported_while_off() -> None:
    probe = (
        "import sys\n"
        "from orchestrator.api.app import create_app\n"
        "from orchestrator.temporal.worker import run_worker\n"
        "from orchestrator.telemetry.metrics import export_config\n"
        "assert export_config() is None\n"
        "loaded = [m for m in sys.modules if m.startswith(('opentelemetry.sdk',"
        " 'opentelemetry.exporter', 'opentelemetry.proto'))]\n"
        "print(loaded)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
