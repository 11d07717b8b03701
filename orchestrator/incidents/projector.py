"""Keeps the incidents projection current by following the audit log.

The projector reads `read_all(after_position)` from its tracking position (the last audit
position it folded in; `eventsourcing`'s word, kept apart from the ledger's signed
checkpoints) and folds each batch in one transaction together with the new position, moved
only if nobody else moved it meanwhile (compare-and-set). So a crash, a re-run or two API
replicas projecting at once never apply an event twice, and `rebuild()` replays from zero into
the same rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from itertools import islice
from typing import Protocol

import sqlalchemy as sa

from orchestrator.db import writing
from orchestrator.domain import RecordedEvent
from orchestrator.incidents import projection
from orchestrator.incidents.models import decisions, incidents, sla_breaches, tracking
from orchestrator.leases import Lease, lead_repeatedly

NAME = "incidents"


class EventSource(Protocol):
    def read_all(
        self, after_position: int = 0, batch_size: int = 500, types: Collection[str] | None = None
    ) -> Iterable[RecordedEvent]: ...


LEAD_LOCK = 0x46425F50524F4A31  # "FB_PROJ1": the PostgreSQL advisory lock of the leader
"""Held by the one replica that folds the log; the others wait for it to be free."""


class IncidentProjector:
    def __init__(self, engine: sa.Engine, source: EventSource, batch_size: int = 500) -> None:
        self.engine = engine
        self.source = source
        self.batch_size = batch_size
        self._lease = Lease(engine, LEAD_LOCK)

    def leads(self) -> bool:
        """Whether this replica folds the log now: on PostgreSQL the one holding the lead lock
        (`orchestrator.leases`). Without it every API replica read, decrypted and folded every
        batch and all but one threw the work away at the compare-and-set
        (docs/production.md)."""
        return self._lease.leads()

    def release(self) -> None:
        """Stop leading; another replica takes over at its next tick."""
        self._lease.release()

    def position(self) -> int:
        with self.engine.connect() as conn:
            return self._position(conn)

    @staticmethod
    def _position(conn: sa.Connection) -> int:
        found = conn.execute(sa.select(tracking.c.position).where(tracking.c.name == NAME)).scalar()
        return int(found or 0)

    def catch_up(self) -> int:
        """Apply every event not yet projected; returns how many were applied."""
        self._ensure_tracking()
        applied = 0
        while True:
            start = self.position()
            events = self.source.read_all(start, self.batch_size, projection.PROJECTED_TYPES)
            batch = list(islice(events, self.batch_size))
            if not batch:
                return applied
            if self._apply_batch(start, batch):
                applied += len(batch)

    def _ensure_tracking(self) -> None:
        with self.engine.begin() as conn:
            if conn.execute(sa.select(tracking.c.name).where(tracking.c.name == NAME)).first():
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(tracking.insert().values(name=NAME, position=0))
        except sa.exc.IntegrityError:
            pass  # another projector created it first; that is all we wanted

    def _apply_batch(self, start: int, batch: list[RecordedEvent]) -> bool:
        """Fold a batch; False (and nothing written) if another projector got there first."""
        try:
            return self._fold(start, batch)
        except sa.exc.IntegrityError:
            return False  # a concurrent projector inserted the same incident row first

    def _fold(self, start: int, batch: list[RecordedEvent]) -> bool:
        # SQLite: take the write lock up front; upgrading a read lock mid-transaction deadlocks.
        with writing(self.engine) as conn:
            fold = projection.Fold(conn)
            for event in batch:
                fold.apply(event)
            fold.flush()
            moved = conn.execute(
                tracking.update()
                .where(tracking.c.name == NAME, tracking.c.position == start)
                .values(position=batch[-1].position)
            ).rowcount
            if moved == 0:
                conn.rollback()
                return False
        return True

    def rebuild(self) -> int:
        """Drop the derived rows and replay the whole log."""
        with self.engine.begin() as conn:
            conn.execute(incidents.delete())
            conn.execute(decisions.delete())
            conn.execute(sla_breaches.delete())
            conn.execute(tracking.delete().where(tracking.c.name == NAME))
        return self.catch_up()

    async def run(self, interval: float = 0.25) -> None:
        """Follow the log until cancelled (the API lifespan owns this task), through database
        outages (`lead_repeatedly`)."""
        await lead_repeatedly(self._lease, self.catch_up, interval, "incidents projection")
