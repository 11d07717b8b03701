"""`GET /metrics`: Prometheus metrics on the app's own registry.

Alert counts are counted in-process by the ingress (`ALERTS_RECEIVED`). Everything about
incidents is computed at scrape time from the projection tables, so every API replica reports
the same figures and they survive restarts instead of resetting with the process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from orchestrator.audit import EventStore
from orchestrator.domain import IncidentStatus
from orchestrator.forwarding.cursors import Cursors
from orchestrator.incidents.models import decisions, incidents, sla_breaches

ALERTS_RECEIVED = Counter(
    "firebreak_alerts_received",
    "Alerts received by webhook, by format and outcome (accepted, duplicate, suppressed, "
    "rejected, ...).",
    ["format", "outcome"],
    registry=None,
)

CONTAINMENT_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0)
APPROVAL_BUCKETS = (10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 14400.0, 86400.0)


def _histogram(
    conn: sa.Connection,
    name: str,
    doc: str,
    column: sa.ColumnElement[float],
    buckets: Sequence[float],
) -> HistogramMetricFamily:
    """Cumulative buckets counted by the database, so a scrape never loads every row."""
    counts = [sa.func.sum(sa.case((column <= b, 1), else_=0)) for b in buckets]
    row = conn.execute(
        sa.select(sa.func.count(column), sa.func.coalesce(sa.func.sum(column), 0.0), *counts)
    ).one()
    total, total_sum = int(row[0]), float(row[1])
    pairs = [(str(b), int(c or 0)) for b, c in zip(buckets, row[2:], strict=True)]
    return HistogramMetricFamily(name, doc, buckets=[*pairs, ("+Inf", total)], sum_value=total_sum)


class ProjectionCollector(Collector):
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with self.engine.connect() as conn:
            by_status: dict[str, int] = dict(
                conn.execute(
                    sa.select(incidents.c.status, sa.func.count()).group_by(incidents.c.status)
                ).all()
            )
            gauge = GaugeMetricFamily(
                "firebreak_incidents", "Incidents in the projection, by status.", labels=["status"]
            )
            for status in IncidentStatus:
                gauge.add_metric([status.value], float(by_status.get(status.value, 0)))
            yield gauge
            yield _histogram(
                conn,
                "firebreak_time_to_containment_seconds",
                "Time from incident opened to containment phase completed.",
                incidents.c.time_to_contain_seconds,
                CONTAINMENT_BUCKETS,
            )
            for leg, doc in (
                ("acknowledge", "Time from incident opened to a responder's acknowledgement."),
                ("resolve", "Time from incident opened to its (first) resolution."),
            ):
                yield _histogram(
                    conn,
                    f"firebreak_time_to_{leg}_seconds",
                    doc,
                    incidents.c[f"time_to_{leg}_seconds"],
                    CONTAINMENT_BUCKETS,
                )
            breaches = GaugeMetricFamily(
                "firebreak_sla_breaches",
                "SLA legs missed (one per incident and leg), by leg and severity.",
                labels=["leg", "severity"],
            )
            query = sa.select(sla_breaches.c.leg, sla_breaches.c.severity, sa.func.count())
            for leg, severity, count in conn.execute(
                query.group_by(sla_breaches.c.leg, sla_breaches.c.severity)
            ):
                breaches.add_metric([leg, severity], float(count))
            yield breaches
            yield _histogram(
                conn,
                "firebreak_approval_wait_seconds",
                "Time a step waited between being requested and a responder's decision.",
                decisions.c.wait_seconds,
                APPROVAL_BUCKETS,
            )


class LedgerCollector(Collector):
    """The ledger's head and the age of its last signed checkpoint, read at scrape time: a
    checkpoint that grows old is a window in which a rewrite would go unnoticed."""

    def __init__(self, engine: sa.Engine) -> None:
        self.store = EventStore(engine)  # reads the head and checkpoints only: no keys needed

    def collect(self) -> Iterator[Metric]:
        position, _ = self.store.head()
        newest = self.store.checkpoints(1)
        latest = newest[0] if newest else None
        yield GaugeMetricFamily(
            "firebreak_audit_head_position",
            "Position of the last event appended to the audit ledger.",
            value=float(position),
        )
        yield GaugeMetricFamily(
            "firebreak_audit_events_since_checkpoint",
            "Events appended after the last signed checkpoint (all of them when none exists).",
            value=float(position - (latest.position if latest else 0)),
        )
        if latest is not None:
            age = (datetime.now(UTC) - latest.created_at).total_seconds()
            yield GaugeMetricFamily(
                "firebreak_audit_checkpoint_age_seconds",
                "Seconds since the last signed checkpoint (absent until one exists).",
                value=max(0.0, age),
            )


class ForwardingCollector(Collector):
    """Each SIEM sink's lag behind the ledger head and its totals, from the forwarder's
    cursor table at scrape time, so the API reports them whichever process forwards."""

    def __init__(self, engine: sa.Engine) -> None:
        self.store = EventStore(engine)
        self.cursors = Cursors(engine)

    def collect(self) -> Iterator[Metric]:
        position, _ = self.store.head()
        statuses = self.cursors.statuses(position)
        lag = GaugeMetricFamily(
            "firebreak_forwarder_lag_events",
            "Ledger events appended that the sink has not acknowledged yet.",
            labels=["sink"],
        )
        failing = GaugeMetricFamily(
            "firebreak_forwarder_failing",
            "1 while the sink's last attempt failed (its reason is on /readyz).",
            labels=["sink"],
        )
        forwarded = CounterMetricFamily(
            "firebreak_forwarder_records",
            "Records the sink acknowledged.",
            labels=["sink"],
        )
        errors = CounterMetricFamily(
            "firebreak_forwarder_errors",
            "Failed attempts to deliver a batch to the sink.",
            labels=["sink"],
        )
        for status in statuses:
            lag.add_metric([status.sink], float(status.lag))
            failing.add_metric([status.sink], 1.0 if status.failing_since else 0.0)
            forwarded.add_metric([status.sink], float(status.forwarded))
            errors.add_metric([status.sink], float(status.errors))
        yield from (lag, failing, forwarded, errors)


def build_registry(engine: sa.Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ALERTS_RECEIVED)
    registry.register(ProjectionCollector(engine))
    registry.register(LedgerCollector(engine))
    registry.register(ForwardingCollector(engine))
    return registry


def metrics_router(engine: sa.Engine) -> APIRouter:
    """Unauthenticated like most Prometheus targets: it exposes counts, never incident content."""
    registry = build_registry(engine)
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", response_class=Response, summary="Prometheus metrics")
    async def metrics() -> Response:
        body = await anyio.to_thread.run_sync(generate_latest, registry)
        return Response(content=body, media_type=CONTENT_TYPE_LATEST)

    return router
