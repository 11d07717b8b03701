"""When a process traces: only when the standard `OTEL_*` variables name an OTLP endpoint,
and never with a setting the SDK would silently ignore."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.telemetry import TraceConfig, trace_config

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


def test_off_without_an_endpoint_whatever_else_is_set() -> None:
    assert trace_config("firebreak-api", {}) is None
    assert trace_config("firebreak-api", {"OTEL_SERVICE_NAME": "x"}) is None
    assert trace_config("firebreak-api", {"OTEL_TRACES_EXPORTER": "otlp"}) is None


@pytest.mark.parametrize(
    "off",
    [
        {"OTEL_SDK_DISABLED": "true"},
        {"OTEL_SDK_DISABLED": "TRUE"},
        {"OTEL_TRACES_EXPORTER": "none"},
    ],
)
def test_the_standard_switches_turn_it_off(off: dict[str, str]) -> None:
    assert trace_config("firebreak-api", ENDPOINT | off) is None


def test_on_with_either_endpoint_variable_and_the_process_name_unless_one_is_set() -> None:
    assert trace_config("firebreak-api", ENDPOINT) == TraceConfig(
        "firebreak-api", "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    traces_only = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}
    named = traces_only | {"OTEL_SERVICE_NAME": "firebreak-eu-worker", "OTEL_SDK_DISABLED": "false"}
    assert trace_config("firebreak-worker", named) == TraceConfig(
        "firebreak-eu-worker", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL='grpc'"),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='http/json'",
        ),
        ({"OTEL_TRACES_EXPORTER": "console"}, "OTLP only"),
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER='sometimes' is not a sampler"),
    ],
)
def test_a_setting_the_sdk_would_ignore_is_a_clear_error(
    setting: dict[str, str], says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        trace_config("firebreak-api", ENDPOINT | setting)
    assert says in raised.value.detail


def test_the_traces_protocol_wins_over_the_general_one() -> None:
    both = {
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",  # for metrics and logs elsewhere
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
    }
    assert trace_config("firebreak-api", ENDPOINT | both) is not None
