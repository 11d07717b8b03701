"""Off by default and free when off: with no `OTEL_*` endpoint, a process that loads every
part of Firebreak and goes through the tracing calls imports nothing more, installs no SDK
tracer provider and gives Temporal no interceptor. And a process told to trace without
the `otel` extra stops with one line naming the command that installs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.telemetry.config import TraceConfig
from orchestrator.telemetry.setup import install

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
import orchestrator.cli.main, orchestrator.api.app, orchestrator.temporal.worker, activities.base
from orchestrator.telemetry import annotate, scope, span, temporal_interceptors, tracing
before = set(sys.modules)
with tracing("firebreak-api"):
    with span("firebreak.alerts.ingest", lambda: {"firebreak.alert.count": 1}):
        annotate({"firebreak.incident.id": "i"})
        with scope({"firebreak.step.id": "s"}):
            interceptors = temporal_interceptors()
new = sorted(set(sys.modules) - before)
from opentelemetry import trace
print(json.dumps({"new": new, "interceptors": len(interceptors),
                  "provider": type(trace.get_tracer_provider()).__name__}))
"""


def _probe(env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _without_otel() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return env | {"PYTHONPATH": str(ROOT)}


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_SDK_DISABLED": "true"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_TRACES_EXPORTER": "none"},
    ],
)
def test_nothing_of_opentelemetry_runs_when_tracing_is_off(extra: dict[str, str]) -> None:
    seen = _probe(_without_otel() | extra)
    # (FastAPI itself imports the OpenTelemetry API where it is installed; the SDK, the
    # exporter, the instrumentations and Temporal's interceptor are what tracing would add.)
    assert seen == {"new": [], "interceptors": 0, "provider": "ProxyTracerProvider"}


def test_on_the_same_probe_installs_the_sdk_provider_and_the_interceptor() -> None:
    # The probe's own contrast: the calls above do switch on when an endpoint is named (the
    # endpoint refuses connections; the spans are dropped at exit, which is fine here).
    seen = _probe(_without_otel() | {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
                                     "OTEL_BSP_EXPORT_TIMEOUT": "100",
                                     "OTEL_EXPORTER_OTLP_TIMEOUT": "1"})  # fmt: skip
    assert {"opentelemetry.sdk.trace", "temporalio.contrib.opentelemetry"} <= set(seen["new"])
    assert seen["interceptors"] == 2 and seen["provider"] == "TracerProvider"


def test_tracing_without_its_packages_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A module set to None in sys.modules cannot be imported: the extra "is not installed".
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(ConfigError) as raised:
        install(TraceConfig("firebreak-worker", "OTEL_EXPORTER_OTLP_ENDPOINT"))
    assert raised.value.detail == (
        "OTEL_EXPORTER_OTLP_ENDPOINT is set, but tracing needs the OpenTelemetry packages"
        " (opentelemetry.exporter.otlp.proto.http.trace_exporter is missing):"
        " reinstall Firebreak with its dependencies (pip install firebreak)"
    )


def test_a_wrong_otel_setting_stops_the_worker_with_one_line(migrated_sqlite_url: str) -> None:
    env = _without_otel() | {
        "FIREBREAK_DATABASE_URL": migrated_sqlite_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "firebreak"), "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "firebreak: OTEL_EXPORTER_OTLP_PROTOCOL='grpc': Firebreak exports traces over OTLP/HTTP"
        " protobuf only; set it to 'http/protobuf' (or unset it)"
    )
    assert "Traceback" not in done.stderr
