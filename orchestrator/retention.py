"""Retention of the shared-state tables that would otherwise only grow.

Each rule names a table, the time column that says when a row dies, and how long after that
time it must be kept; a row is dead once `column < now - keep`, and only then deleted. Why each
row may go (and when it would still be needed) is written beside its rule in `rules`. Nothing
here touches the audit ledger, the incidents projection, `alert_receipts` (the alerts view reads
them), principals or suppression windows: those are history, not working state.

Deletes run in batches of `batch_size` rows, each its own short transaction, so no prune holds
locks for long. Each batch selects up to that many dead keys, then deletes `WHERE key IN (...)
AND dead`: the DELETE checks again that each row is still dead, so a claim taken over between
the two (its `expires_at` or `claimed_at` moved forward) is not lost. On PostgreSQL, a row updated
by a concurrent transaction is re-checked against the DELETE's condition after that
transaction commits; on SQLite writers are serialised anyway.

The module sits beside the services rather than in one of them, because its rules span both
sides of the import contracts (pyproject.toml): two tables belong to `activities/`, which the
API packages may not import, and three to `orchestrator.alerts`, `.correlation` and `.console`,
which `activities/` may not import. Only the worker and the CLI, which may import both, use it;
the API never does (the contract "the API never calls activities" would reject it). The worker
prunes on a schedule, one at a time across processes under a `Lease` (on SQLite, each worker of
the one host; the deletes are safe to overlap).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from activities.effects import records as effect_records
from activities.guard import claims as guard_claims
from orchestrator import db
from orchestrator.alerts.models import deliveries as webhook_deliveries
from orchestrator.console.models import sessions as console_sessions
from orchestrator.correlation.models import entity_claims
from orchestrator.db import database_unavailable, make_engine, writing
from orchestrator.leases import Lease, lead_repeatedly, lock_key
from orchestrator.settings import Settings

__all__ = [
    "BATCH_SIZE",
    "LEASE",
    "Pruner",
    "Rule",
    "count_dead",
    "periodic_prune",
    "prune",
    "rules",
]

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
"""Rows per delete transaction: small enough that each commit is quick and holds few locks."""

LEASE = lock_key("firebreak.retention")
"""The advisory lock of the one worker that prunes on PostgreSQL."""


@dataclass(frozen=True)
class Rule:
    """`table`'s rows are dead once `column < now - keep`."""

    table: sa.Table
    column: sa.Column[datetime]
    keep: timedelta

    @property
    def name(self) -> str:
        return self.table.name

    def dead(self, now: datetime) -> sa.ColumnElement[bool]:
        return self.column < now - self.keep


def rules(settings: Settings) -> list[Rule]:
    """Every table's rule under `settings`, in the order they are pruned and reported."""
    retention = timedelta(days=settings.retention_days)
    return [
        # An entity claim whose `expires_at` passed leads nowhere: the correlation treats it as
        # free (`_holder`) and the next alert naming the entity takes it over or re-inserts it.
        # `merged` rows expire the same way, after the merge's window.
        Rule(entity_claims, entity_claims.c.expires_at, timedelta(0)),
        # A guard claim older than the guard window blocks nobody (`ResourceGuard._holder`), and
        # the next claim of the resource takes the row over or re-inserts it. Pruned against the
        # window configured now: a window raised later does not revive a claim already gone.
        Rule(
            guard_claims,
            guard_claims.c.claimed_at,
            timedelta(seconds=settings.guard_window_seconds),
        ),
        # An effect's first answer is needed only while the incident that made it can retry the
        # effect or compensate with its inverse; FIREBREAK_RETENTION_DAYS outlasts any incident.
        Rule(effect_records, effect_records.c.recorded_at, retention),
        # A delivery id answers retries of one delivery and refuses its replay. A signed replay
        # older than FIREBREAK_WEBHOOK_TOLERANCE_SECONDS is refused by its timestamp anyway (the
        # settings keep the retention above it); a token-only sender's retries come within
        # minutes, far inside the retention.
        Rule(webhook_deliveries, webhook_deliveries.c.received_at, retention),
        # An expired console session signs nobody in (`console.service` reads only live ones).
        Rule(console_sessions, console_sessions.c.expires_at, timedelta(0)),
    ]


def _now() -> datetime:
    return datetime.now(dt.UTC)


def count_dead(
    engine: sa.Engine, settings: Settings, now: datetime | None = None
) -> dict[str, int]:
    """How many rows of each table `prune` would delete at `now` (the dry run)."""
    at = now or _now()
    try:
        with engine.connect() as conn:
            return {
                rule.name: int(
                    conn.execute(
                        sa.select(sa.func.count()).select_from(rule.table).where(rule.dead(at))
                    ).scalar_one()
                )
                for rule in rules(settings)
            }
    except db.DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "event store") from None


def prune(
    engine: sa.Engine,
    settings: Settings,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict[str, int]:
    """Delete every dead row, in batches; how many went from each table."""
    at = now or _now()
    try:
        return {rule.name: _prune_table(engine, rule, at, batch_size) for rule in rules(settings)}
    except db.DATABASE_ERRORS as exc:
        raise database_unavailable(exc, "event store") from None


def _prune_table(engine: sa.Engine, rule: Rule, now: datetime, batch_size: int) -> int:
    key = list(rule.table.primary_key.columns)
    dead = rule.dead(now)
    batch = sa.select(*key).where(dead).limit(batch_size)
    deleted = 0
    while True:
        with writing(engine) as conn:
            chosen = conn.execute(batch).all()
            if not chosen:
                return deleted
            # The keys as values, not a subquery: PostgreSQL then deletes through the primary
            # key instead of scanning the table for each batch (bench/retention.py).
            keyed = (
                key[0].in_([row[0] for row in chosen])
                if len(key) == 1
                else sa.tuple_(*key).in_([tuple(row) for row in chosen])
            )
            deleted += conn.execute(sa.delete(rule.table).where(keyed, dead)).rowcount
        if len(chosen) < batch_size:
            return deleted


class Pruner:
    """The worker's scheduled prune: one process at a time on PostgreSQL, through a `Lease`
    that it keeps between rounds, so one worker prunes each interval rather than all of them."""

    def __init__(
        self, engine: sa.Engine, settings: Settings, clock: Callable[[], datetime] = _now
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self._lease = Lease(engine, LEASE)

    def round(self) -> dict[str, int] | None:
        """Prune now if this process leads; None if another one does."""
        if not self._lease.leads():
            return None
        return prune(self.engine, self.settings, self.clock())

    def _round_said(self) -> None:
        pruned = prune(self.engine, self.settings, self.clock())
        if any(pruned.values()):
            counts = ", ".join(f"{name} {count}" for name, count in pruned.items() if count)
            log.info("retention pruned %s", counts)

    async def run(self, interval: float) -> None:
        """Prune at once and then every `interval` seconds while this process leads, until
        cancelled, through database outages (`lead_repeatedly`)."""
        await lead_repeatedly(self._lease, self._round_said, interval, "retention prune")


@contextlib.asynccontextmanager
async def periodic_prune(settings: Settings) -> AsyncIterator[None]:
    """Prune every `settings.prune_interval_seconds` while the block runs (never with 0), on
    an engine of its own, whose connections (the lease's among them) go when the block ends."""
    if settings.prune_interval_seconds == 0:
        yield
        return
    engine = make_engine(settings.db_url)
    task = asyncio.create_task(
        Pruner(engine, settings).run(settings.prune_interval_seconds), name="retention-prune"
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        engine.dispose()
