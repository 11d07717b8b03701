"""`GET /metrics`: Prometheus metrics on the app's own registry.

Alert counts are counted in-process by the ingress (`ALERTS_RECEIVED`), provider calls and
ledger appends by whatever in this process made them (`orchestrator/telemetry/instruments.py`).
Everything about incidents is computed at scrape time from the projection tables, so every API
replica reports the same figures and they survive restarts instead of resetting with the
process.
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
from orchestrator.domain import OPEN_STATUSES, Environment, IncidentStatus, Severity, SlaLeg
from orchestrator.forwarding.cursors import Cursors
from orchestrator.incidents.models import decisions, incidents, sla_breaches
from orchestrator.incidents.service import sla_next
from orchestrator.settings import DEFAULT_SLA, SlaRule
from orchestrator.telemetry.instruments import IN_PROCESS
from orchestrator.timeutil import as_utc

ALERTS_RECEIVED = Counter(
    "firebreak_alerts_received",
    "Alerts received by webhook, by format and outcome (accepted, duplicate, suppressed, "
    "rejected, ...).",
    ["format", "outcome"],
    registry=None,
)

DECISION_REASONS = ("approval", "failure", "triage")
SLA_DUE_WITHIN = (("overdue", 0.0), ("15m", 900.0), ("1h", 3600.0), ("later", float("inf")))
"""Labels of `firebreak_sla_open_legs`: the first whose bound the time left is under."""
SLA_COLUMNS = (
    "sla",
    "sla_breached",
    "opened_at",
    "closed_at",
    "acknowledged_at",
    "resolved_at",
    "time_to_contain_seconds",
)
CONTAINMENT_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0)
APPROVAL_BUCKETS = (10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 14400.0, 86400.0)


def _histogram(
    conn: sa.Connection,
    name: str,
    doc: str,
    column: sa.ColumnElement[float],
    buckets: Sequence[float],
    *,
    by: tuple[str, sa.ColumnElement[str]] | None = None,
    source: sa.FromClause | None = None,
) -> HistogramMetricFamily:
    """Cumulative buckets counted by the database, so a scrape never loads every row; `by`
    groups them under one label (a label, the column it takes its values from)."""
    counts = [sa.func.sum(sa.case((column <= b, 1), else_=0)) for b in buckets]
    query = sa.select(sa.func.count(column), sa.func.coalesce(sa.func.sum(column), 0.0), *counts)
    if source is not None:
        query = query.select_from(source)
    if by is not None:
        query = query.add_columns(by[1]).group_by(by[1])
    family = HistogramMetricFamily(name, doc, labels=[by[0]] if by else [])
    for row in conn.execute(query):
        total, total_sum = int(row[0]), float(row[1])
        cumulative = row[2 : 2 + len(buckets)]
        pairs = [(str(b), int(c or 0)) for b, c in zip(buckets, cumulative, strict=True)]
        labels = [str(row[-1])] if by else []
        family.add_metric(labels, [*pairs, ("+Inf", total)], total_sum)
    return family


def _waiting_and_sla_due(
    conn: sa.Connection, now: datetime
) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    """Decisions waiting now and SLA legs counting down, from the open incidents' rows only
    (the few that are open, not the history)."""
    waiting = GaugeMetricFamily(
        "firebreak_approvals_waiting",
        "Decisions waiting for a responder now (reason approval, failure or triage), by the "
        "incident's environment.",
        labels=["environment", "reason"],
    )
    due = GaugeMetricFamily(
        "firebreak_sla_open_legs",
        "Open incidents by the SLA leg that falls due next and how soon: overdue (no breach "
        "recorded yet), within 15m, within 1h, or later.",
        labels=["leg", "due"],
    )
    counts = {(e.value, r): 0 for e in Environment for r in DECISION_REASONS}
    legs = {(leg.value, d): 0 for leg in SlaLeg for d, _ in SLA_DUE_WITHIN}
    columns = [incidents.c[name] for name in SLA_COLUMNS]
    query = sa.select(incidents.c.environment, incidents.c.pending, *columns).where(
        incidents.c.status.in_([s.value for s in OPEN_STATUSES])
    )
    for row in conn.execute(query):
        for pending in row.pending or []:
            key = (row.environment, str(pending.get("reason", "approval")))
            counts[key] = counts.get(key, 0) + 1
        fields = {name: row._mapping[name] for name in SLA_COLUMNS}
        for name in ("opened_at", "closed_at", "acknowledged_at", "resolved_at"):
            fields[name] = None if fields[name] is None else as_utc(fields[name])
        next_due = sla_next(fields)
        if next_due is not None:
            left = (next_due.due_at - now).total_seconds()
            label = next(d for d, bound in SLA_DUE_WITHIN if left < bound)
            legs[(next_due.leg.value, label)] += 1
    for (environment, reason), n in sorted(counts.items()):
        waiting.add_metric([environment, reason], float(n))
    for (leg, label), n in sorted(legs.items()):
        due.add_metric([leg, label], float(n))
    return waiting, due


class ProjectionCollector(Collector):
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with self.engine.connect() as conn:
            columns = (incidents.c.status, incidents.c.severity)
            by_status: dict[tuple[str, str], int] = {
                (status, severity): count
                for status, severity, count in conn.execute(
                    sa.select(*columns, sa.func.count()).group_by(*columns)
                )
            }
            gauge = GaugeMetricFamily(
                "firebreak_incidents",
                "Incidents in the projection, by status and severity.",
                labels=["status", "severity"],
            )
            for status in IncidentStatus:
                for severity in Severity:
                    count = by_status.get((status.value, severity.value), 0)
                    gauge.add_metric([status.value, severity.value], float(count))
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
                "Time a step waited between being requested and a responder's decision, by the "
                "incident's environment.",
                decisions.c.wait_seconds,
                APPROVAL_BUCKETS,
                by=("environment", incidents.c.environment),
                source=decisions.join(incidents, incidents.c.id == decisions.c.incident_id),
            )
            yield from _waiting_and_sla_due(conn, datetime.now(UTC))


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


class SlaTargetCollector(Collector):
    """The configured SLA targets (`FIREBREAK_SLA`, severity-wide rules), so a dashboard can
    draw time to contain against its target without copying the configuration."""

    def __init__(self, rules: Sequence[SlaRule]) -> None:
        self.rules = [rule for rule in rules if rule.type is None]

    def collect(self) -> Iterator[Metric]:
        targets = GaugeMetricFamily(
            "firebreak_sla_target_seconds",
            "Configured SLA target per leg and severity (rules for one incident type excluded).",
            labels=["leg", "severity"],
        )
        for rule in self.rules:
            for leg in SlaLeg:
                seconds = getattr(rule, f"{leg.value}_seconds")
                if seconds is not None:
                    targets.add_metric([leg.value, rule.severity.value], float(seconds))
        yield targets


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


def build_registry(engine: sa.Engine, sla: Sequence[SlaRule] = DEFAULT_SLA) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ALERTS_RECEIVED)
    registry.register(SlaTargetCollector(sla))
    for collector in IN_PROCESS:  # a worker in this process (`firebreak up`) counts here too
        registry.register(collector)
    registry.register(ProjectionCollector(engine))
    registry.register(LedgerCollector(engine))
    registry.register(ForwardingCollector(engine))
    return registry


def metrics_router(registry: CollectorRegistry) -> APIRouter:
    """Unauthenticated like most Prometheus targets: it exposes counts, never incident content."""
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", response_class=Response, summary="Prometheus metrics")
    async def metrics() -> Response:
        body = await anyio.to_thread.run_sync(generate_latest, registry)
        return Response(content=body, media_type=CONTENT_TYPE_LATEST)

    return router
