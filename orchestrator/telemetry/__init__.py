"""What Firebreak's processes tell an operator's own tools: OpenTelemetry traces of one alert,
from the webhook to the provider's HTTP call, and metrics (`instruments`, `metrics`).

Off unless the standard `OTEL_*` variables name an OTLP endpoint (`config`); then each process
(`firebreak api`, `worker`, `up`) exports spans over OTLP/HTTP protobuf (`setup`), and the
hot path's calls (`spans`) record Firebreak's ids on them. What a span may hold: `privacy` and
docs/observability.md.
"""

from orchestrator.telemetry.config import TraceConfig, trace_config
from orchestrator.telemetry.setup import instrument_app, temporal_interceptors, tracing
from orchestrator.telemetry.spans import annotate, enabled, scope, span

__all__ = [
    "TraceConfig",
    "annotate",
    "enabled",
    "instrument_app",
    "scope",
    "span",
    "temporal_interceptors",
    "trace_config",
    "tracing",
]
