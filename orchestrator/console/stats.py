"""Figures for the metrics page, from the incidents projection, scoped to the viewer's tiers.

`/metrics` exposes the same data as Prometheus histograms for machines; people want a few
percentiles over recent windows, so this reads the rows of the window and computes them here
(one indexed scan of recent incidents, not the whole history).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from orchestrator.domain import OPEN_STATUSES, PhaseName, PhaseTiming
from orchestrator.incidents.models import incidents
from orchestrator.timeutil import as_utc

WINDOWS = (("24 h", timedelta(hours=24)), ("7 d", timedelta(days=7)))
OPEN = tuple(sorted(status.value for status in OPEN_STATUSES))


@dataclass(frozen=True)
class Spread:
    """p50 and p90 of `count` samples (None when there are none)."""

    count: int
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class Summary:
    open_by_status: dict[str, int]
    open_by_severity: dict[str, int]
    approvals_by_environment: dict[str, int]  # steps waiting for approval now
    containment: dict[str, Spread]  # window label -> time to containment
    containment_by_severity: dict[str, Spread]  # over the longest window
    phases: dict[str, Spread]  # phase -> duration, over the longest window


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Sequence[float]) -> Spread:
    return Spread(len(values), percentile(values, 0.5), percentile(values, 0.9))


def summarise(engine: sa.Engine, environments: Collection[str], now: datetime) -> Summary:
    scope = incidents.c.environment.in_(list(environments))
    oldest = now - max(window for _, window in WINDOWS)
    with engine.connect() as conn:
        open_rows = conn.execute(
            sa.select(
                incidents.c.status,
                incidents.c.severity,
                incidents.c.environment,
                incidents.c.pending,
            ).where(scope, incidents.c.status.in_(OPEN))
        ).all()
        recent = conn.execute(
            sa.select(
                incidents.c.opened_at,
                incidents.c.severity,
                incidents.c.time_to_contain_seconds,
                incidents.c.phases,
            ).where(scope, incidents.c.opened_at >= oldest)
        ).all()
    by_status = {status: 0 for status in OPEN}
    by_severity: dict[str, int] = {}
    approvals = {environment: 0 for environment in sorted(environments)}
    for status, severity, environment, pending in open_rows:
        by_status[status] += 1
        by_severity[severity] = by_severity.get(severity, 0) + 1
        waiting = [p for p in pending or [] if p.get("reason", "approval") == "approval"]
        approvals[environment] = approvals.get(environment, 0) + len(waiting)
    contained: dict[str, list[float]] = {}
    for r in recent:
        if r.time_to_contain_seconds is not None:
            contained.setdefault(r.severity, []).append(r.time_to_contain_seconds)
    containment = {
        label: spread(
            [
                r.time_to_contain_seconds
                for r in recent
                if r.time_to_contain_seconds is not None and as_utc(r.opened_at) >= now - window
            ]
        )
        for label, window in WINDOWS
    }
    durations: dict[str, list[float]] = {phase.value: [] for phase in PhaseName}
    for phases in (r.phases for r in recent):
        for phase, raw in (phases or {}).items():
            timing = PhaseTiming.model_validate(raw)
            if phase in durations and timing.started_at and timing.completed_at:
                durations[phase].append((timing.completed_at - timing.started_at).total_seconds())
    return Summary(
        open_by_status=by_status,
        open_by_severity=by_severity,
        approvals_by_environment=approvals,
        containment=containment,
        containment_by_severity={sev: spread(values) for sev, values in contained.items()},
        phases={phase: spread(values) for phase, values in durations.items()},
    )
