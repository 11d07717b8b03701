"""Whether this process traces, decided from the standard `OTEL_*` variables alone.

Tracing is off unless an OTLP endpoint is named (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
`OTEL_EXPORTER_OTLP_ENDPOINT`), and `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`
turn it off again. This module imports nothing of OpenTelemetry: deciding "off" must cost
nothing, and must work where the `otel` extra is not installed. What it does not check (the
endpoint's form, headers, timeouts, batch sizes, sampler argument) the SDK reads itself from
the same variables, as its documentation describes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.errors import ConfigError

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROTOCOL_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
SUPPORTED_PROTOCOL = "http/protobuf"
SAMPLERS = frozenset(
    {
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    }
)
"""The sampler names of the OpenTelemetry specification that the Python SDK implements."""
INSTALL_HINT = "reinstall Firebreak with its dependencies (pip install firebreak)"


@dataclass(frozen=True)
class TraceConfig:
    """What `orchestrator.telemetry.setup` needs: the service name and the variable that named
    the endpoint (for messages; the SDK reads the value itself)."""

    service_name: str
    endpoint_variable: str


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def trace_config(default_service: str, env: Mapping[str, str] | None = None) -> TraceConfig | None:
    """The tracing of a process called `default_service` (unless `OTEL_SERVICE_NAME` names
    it), or None when tracing is off. A setting the SDK would quietly ignore or replace (a
    gRPC protocol, an unknown sampler or exporter) is a `ConfigError` here instead."""
    env = os.environ if env is None else env
    if _true(env.get("OTEL_SDK_DISABLED")):
        return None
    exporters = [e.strip() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()]
    if exporters == ["none"]:
        return None
    named = next((name for name in ENDPOINT_VARIABLES if env.get(name, "").strip()), None)
    if named is None:
        return None
    if any(e != "otlp" for e in exporters):
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER={env['OTEL_TRACES_EXPORTER']!r}: Firebreak exports traces "
            "over OTLP only; use 'otlp' or 'none'"
        )
    check_protocol(env, "traces", PROTOCOL_VARIABLES)
    sampler = env.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if sampler and sampler not in SAMPLERS:
        raise ConfigError(
            f"OTEL_TRACES_SAMPLER={sampler!r} is not a sampler; use one of "
            + ", ".join(sorted(SAMPLERS))
        )
    service = env.get("OTEL_SERVICE_NAME", "").strip() or default_service
    return TraceConfig(service_name=service, endpoint_variable=named)


def check_protocol(env: Mapping[str, str], signal: str, variables: tuple[str, str]) -> None:
    """The first of `variables` (the signal's own, then the general one) that is set must
    name OTLP/HTTP protobuf: the SDK would otherwise ignore a gRPC or JSON setting quietly
    and send protobuf to a port that expects something else."""
    for name in variables:
        protocol = env.get(name, "").strip()
        if protocol and protocol != SUPPORTED_PROTOCOL:
            raise ConfigError(
                f"{name}={protocol!r}: Firebreak exports {signal} over OTLP/HTTP protobuf only;"
                f" set it to {SUPPORTED_PROTOCOL!r} (or unset it)"
            )
        if protocol:
            return
