"""Installing tracing in a process: the SDK, the OTLP/HTTP exporter and the instrumentations.

Imported by every process's entry point, but it imports OpenTelemetry only inside `install`,
which runs only when `config.trace_config` says tracing is on; the SDK, the exporter and the
instrumentations are dependencies of Firebreak, and a process told to trace in an environment
that lost one stops with a one-line error naming it.

One tracer provider per process, passed explicitly to each instrumentation and to Temporal's
`TracingInterceptor`; it is also set as the global provider, so a library the operator adds
traces into the same pipeline. Spans leave through a `BatchSpanProcessor` (its queue and
batch sizes from `OTEL_BSP_*`), and `tracing` flushes them when the process stops gracefully.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from importlib.metadata import version
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.telemetry import privacy, spans
from orchestrator.telemetry.config import INSTALL_HINT, TraceConfig, trace_config

NOT_TRACED_PATHS = "/healthz$,/readyz$,/metrics$"
"""Probes and scrapes: many per minute, nothing to follow (`OTEL_PYTHON_FASTAPI_EXCLUDED_URLS`
replaces the list)."""


@contextlib.contextmanager
def tracing(default_service: str) -> Iterator[None]:
    """Trace the block when the `OTEL_*` variables ask for it (as `default_service` unless
    `OTEL_SERVICE_NAME` names the process), then flush what is buffered."""
    config = trace_config(default_service)
    if config is None:
        yield
        return
    shutdown = install(config)
    try:
        yield
    finally:
        shutdown()


def install(config: TraceConfig) -> Callable[[], None]:
    """Install tracing for this process; returns what flushes and removes it again."""
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.metrics import NoOpMeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from temporalio.contrib.opentelemetry import TracingInterceptor

        from orchestrator.telemetry.activities import ActivityIds
    except ImportError as exc:
        missing = exc.name or "an OpenTelemetry package"
        raise ConfigError(
            f"{config.endpoint_variable} is set, but tracing needs the OpenTelemetry packages"
            f" ({missing} is missing): {INSTALL_HINT}"
        ) from None
    resource = Resource.create(
        {"service.name": config.service_name, "service.version": version("firebreak")}
    )
    provider = TracerProvider(resource=resource)  # sampler: OTEL_TRACES_SAMPLER(_ARG)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)  # kept if another was set first: ours are explicit
    tracer = provider.get_tracer("firebreak", version("firebreak"))
    httpx_instrumentor = HTTPXClientInstrumentor()
    httpx_instrumentor.instrument(
        tracer_provider=provider,
        meter_provider=NoOpMeterProvider(),  # metrics are Prometheus's (docs/observability.md)
        request_hook=_client_request,
        async_request_hook=_async_client_request,
    )
    spans.activate(spans.Active(tracer, [TracingInterceptor(tracer), ActivityIds()], provider))

    def shutdown() -> None:
        spans.activate(None)
        httpx_instrumentor.uninstrument()
        provider.shutdown()  # flushes the batch processor, then closes the exporter

    return shutdown


def instrument_app(app: Any) -> None:
    """Server spans for every request of the FastAPI `app`, named by route template; a no-op
    when tracing is off."""
    active = spans.active()
    if active is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.metrics import NoOpMeterProvider

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=active.provider,
        meter_provider=NoOpMeterProvider(),
        excluded_urls=os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", NOT_TRACED_PATHS),
        server_request_hook=_server_request,
        http_capture_headers_sanitize_fields=list(privacy.SENSITIVE_HEADERS),
        exclude_spans=["receive", "send"],
    )


def temporal_interceptors() -> list[Any]:
    """What `Client.connect` takes as `interceptors`: Temporal's tracing interceptor and
    `activities.ActivityIds` inside it when tracing is on (workers built on the client use
    them too), else nothing."""
    active = spans.active()
    return [] if active is None else list(active.temporal_interceptors)


def _server_request(span: Any, scope: dict[str, Any]) -> None:
    privacy.scrub(span)


def _client_request(span: Any, request: Any) -> None:
    privacy.scrub(span)
    if span.is_recording():
        span.set_attributes(spans.scoped())


async def _async_client_request(span: Any, request: Any) -> None:
    _client_request(span, request)
