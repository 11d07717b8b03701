"""The Prometheus registry's metrics, also pushed over OTLP/HTTP when the standard variables ask.

One definition of each metric: what a process serves on `/metrics` is what it exports, sample
for sample. The OpenTelemetry SDK for Python (1.45) reads no Prometheus registry, so this is a
bridge: every `OTEL_METRIC_EXPORT_INTERVAL` a thread collects the registry, turns each family
into its OTLP equivalent (counter -> monotonic cumulative sum named without `_total`, gauge ->
gauge, histogram -> explicit-bucket cumulative histogram without min/max, which Prometheus does
not keep) and hands it to the SDK's `OTLPMetricExporter`, which reads its endpoint, headers,
TLS files, compression and timeout from the `OTEL_EXPORTER_OTLP_*` variables itself. A last
export runs at stop, so a short-lived process still reports.

Off unless `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set (and
`OTEL_SDK_DISABLED` / `OTEL_METRICS_EXPORTER=none` do not turn it off); while off, nothing of the
SDK, the exporter or protobuf is imported: this module imports them only to start an export.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING, cast

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric as Family

from orchestrator.errors import ConfigError
from orchestrator.telemetry.config import check_protocol

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import Metric, MetricExporter, MetricsData
    from opentelemetry.sdk.resources import Resource

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROTOCOL_VARIABLES = ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
DEFAULT_INTERVAL_MS = 60_000.0
DEFAULT_TIMEOUT_MS = 30_000.0


@dataclass(frozen=True)
class ExportConfig:
    interval_seconds: float
    timeout_seconds: float


def _milliseconds(environ: Mapping[str, str], variable: str, default: float) -> float:
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"{variable}: expected a positive number of milliseconds, got {raw!r}")
    return value


def export_config(environ: Mapping[str, str] | None = None) -> ExportConfig | None:
    """What the standard variables ask for, or None when metrics go over OTLP nowhere.

    Raises `ConfigError` for what would otherwise be silently ignored: a protocol other than
    http/protobuf, an exporter name this process does not have, a malformed interval.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporters = {
        name.strip().lower()
        for name in env.get("OTEL_METRICS_EXPORTER", "otlp").split(",")
        if name.strip()
    }
    unknown = exporters - {"otlp", "prometheus", "none"}
    if unknown:
        raise ConfigError(
            f"OTEL_METRICS_EXPORTER: unknown exporter {sorted(unknown)[0]!r} (Firebreak has"
            " otlp, prometheus (its /metrics, always on) and none)"
        )
    if "otlp" not in exporters or not any(env.get(v, "").strip() for v in ENDPOINT_VARIABLES):
        return None
    check_protocol(env, "metrics", PROTOCOL_VARIABLES)
    return ExportConfig(
        interval_seconds=_milliseconds(env, "OTEL_METRIC_EXPORT_INTERVAL", DEFAULT_INTERVAL_MS)
        / 1000,
        timeout_seconds=_milliseconds(env, "OTEL_METRIC_EXPORT_TIMEOUT", DEFAULT_TIMEOUT_MS) / 1000,
    )


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def to_otlp(families: Iterable[Family], start_ns: int, now_ns: int) -> list[Metric]:
    """OTLP metrics for Prometheus `families`; `start_ns` starts every cumulative series that
    has no `_created` sample of its own (the ones computed from the database at collect)."""
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Gauge,
        Histogram,
        HistogramDataPoint,
        Metric,
        NumberDataPoint,
        Sum,
    )

    metrics: list[Metric] = []
    for family in families:
        created = {
            _key(s.labels): _ns(s.value) for s in family.samples if s.name.endswith("_created")
        }
        data: Sum | Gauge | Histogram
        if family.type == "counter":
            data = Sum(
                data_points=[
                    NumberDataPoint(
                        attributes=dict(s.labels),
                        start_time_unix_nano=created.get(_key(s.labels), start_ns),
                        time_unix_nano=now_ns,
                        value=s.value,
                    )
                    for s in family.samples
                    if s.name == f"{family.name}_total"
                ],
                aggregation_temporality=AggregationTemporality.CUMULATIVE,
                is_monotonic=True,
            )
        elif family.type in ("gauge", "unknown"):
            data = Gauge(
                data_points=[
                    NumberDataPoint(
                        attributes=dict(s.labels),
                        start_time_unix_nano=0,
                        time_unix_nano=now_ns,
                        value=s.value,
                    )
                    for s in family.samples
                    if s.name == family.name
                ]
            )
        elif family.type == "histogram":
            series: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
            bounds: dict[tuple[tuple[str, str], ...], dict[float, float]] = {}
            for s in family.samples:
                labels = {k: v for k, v in s.labels.items() if k != "le"}
                key = _key(labels)
                if s.name == f"{family.name}_bucket":
                    bounds.setdefault(key, {})[float(s.labels["le"])] = s.value
                elif s.name in (f"{family.name}_sum", f"{family.name}_count"):
                    series.setdefault(key, {})[s.name.rsplit("_", 1)[1]] = s.value
            points = []
            for key, cumulative in bounds.items():
                edges = sorted(cumulative)  # the last one is +Inf
                counts = [int(cumulative[e]) for e in edges]
                per_bucket = [counts[0], *(b - a for a, b in itertools.pairwise(counts))]
                points.append(
                    HistogramDataPoint(
                        attributes=dict(key),
                        start_time_unix_nano=created.get(key, start_ns),
                        time_unix_nano=now_ns,
                        count=int(series.get(key, {}).get("count", counts[-1])),
                        sum=series.get(key, {}).get("sum", 0.0),
                        bucket_counts=per_bucket,
                        explicit_bounds=edges[:-1],
                        # Prometheus keeps no min/max: None leaves the optional fields unset.
                        min=cast(float, None),
                        max=cast(float, None),
                    )
                )
            data = Histogram(
                data_points=points, aggregation_temporality=AggregationTemporality.CUMULATIVE
            )
        else:  # summaries, info, state sets: Firebreak defines none
            continue
        if not data.data_points:  # a labelled family nothing has counted yet
            continue
        metrics.append(
            Metric(name=family.name, description=family.documentation, unit=family.unit, data=data)
        )
    return metrics


def _resource(process: str) -> Resource:
    """`service.name` firebreak and a `service.instance.id` per process, unless
    `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` say otherwise; `firebreak.process` names
    the kind of process (api, worker, up)."""
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    given = OTELResourceDetector().detect().attributes
    ours = {
        "service.name": "firebreak",
        "service.version": version("firebreak"),
        "service.instance.id": str(uuid.uuid4()),
        "firebreak.process": process,
    }
    return Resource.create({k: v for k, v in ours.items() if k not in given})


class MetricsExport:
    """A thread that exports `registry` every interval until `stop`, then once more."""

    def __init__(
        self,
        registry: CollectorRegistry,
        process: str,
        config: ExportConfig,
        exporter: MetricExporter | None = None,
    ) -> None:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        self.registry = registry
        self.config = config
        self._exporter = exporter or OTLPMetricExporter()
        self._resource = _resource(process)
        self._start_ns = time.time_ns()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otlp-metrics", daemon=True)

    def start(self) -> MetricsExport:
        self._thread.start()
        return self

    def collect(self) -> MetricsData:
        from opentelemetry.sdk.metrics.export import MetricsData, ResourceMetrics, ScopeMetrics
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        metrics = to_otlp(self.registry.collect(), self._start_ns, time.time_ns())
        scope = InstrumentationScope("firebreak", version("firebreak"))
        return MetricsData(
            resource_metrics=[
                ResourceMetrics(
                    resource=self._resource,
                    scope_metrics=[ScopeMetrics(scope=scope, metrics=metrics, schema_url="")],
                    schema_url="",
                )
            ]
        )

    def export_once(self) -> bool:
        """Collect and export now; False (and a warning naming only the error's type) when the
        registry or the receiver failed. The exporter logs its own HTTP failures."""
        from opentelemetry.sdk.metrics.export import MetricExportResult

        try:
            data = self.collect()
        except Exception as exc:  # e.g. the database is down: the next interval tries again
            log.warning("OTLP metrics: collecting failed (%s)", type(exc).__name__)
            return False
        result = self._exporter.export(data, timeout_millis=self.config.timeout_seconds * 1000)
        return result is MetricExportResult.SUCCESS

    def _run(self) -> None:
        while not self._stopping.wait(self.config.interval_seconds):
            self.export_once()

    def stop(self) -> None:
        """Stop the interval, export the last figures, release the exporter."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        self.export_once()
        self._exporter.shutdown()
