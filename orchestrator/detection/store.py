"""Baselines in the database (`detector_baselines`, migration 0015).

One row per detector and subject holding the detector's exported state as JSON. The runner
loads every row of its enabled detectors at start, saves the changed ones every
`save_every_seconds` and on stop. Replicas that see the same subject share the row: the last
writer wins for that subject (each replica's state is a full baseline, not a delta, so a lost
write costs a little learning, never a corrupt baseline); replicas fed disjoint partitions of
the traffic (by caller or key) never contend.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import sqlalchemy as sa

from orchestrator.db import upsert, writing
from orchestrator.detection.engine import Baseline
from orchestrator.timeutil import as_utc

MAX_SUBJECT_CHARS = 500
SAVE_BATCH = 500

metadata = sa.MetaData()

baselines = sa.Table(
    "detector_baselines",
    metadata,
    sa.Column("detector", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(MAX_SUBJECT_CHARS), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


class BaselineStore:
    """Load and save detector baselines."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def load(self, detectors: Iterable[str] | None = None) -> Iterator[Baseline]:
        """Every stored baseline (of `detectors`, if given)."""
        query = sa.select(baselines.c.detector, baselines.c.subject, baselines.c.state)
        if detectors is not None:
            query = query.where(baselines.c.detector.in_(list(detectors)))
        with self.engine.connect() as conn:
            for row in conn.execute(query.order_by(baselines.c.detector, baselines.c.subject)):
                yield Baseline(row.detector, row.subject, dict(row.state))

    def save(self, changed: Iterable[Baseline]) -> int:
        """Upsert `changed` (last writer wins per subject); returns how many rows were written."""
        rows = [
            {
                "detector": b.detector,
                "subject": b.subject[:MAX_SUBJECT_CHARS],
                "state": b.state,
                "updated_at": datetime.now(UTC),
            }
            for b in changed
        ]
        for start in range(0, len(rows), SAVE_BATCH):
            statement = upsert(self.engine, baselines)
            statement = statement.on_conflict_do_update(
                index_elements=["detector", "subject"],
                set_={
                    "state": statement.excluded.state,
                    "updated_at": statement.excluded.updated_at,
                },
            )
            with writing(self.engine) as conn:
                conn.execute(statement, rows[start : start + SAVE_BATCH])
        return len(rows)

    def rows(self, detector: str | None = None) -> list[dict[str, object]]:
        """Stored baselines with their update time, for `firebreak detect baselines`."""
        query = sa.select(baselines).order_by(baselines.c.detector, baselines.c.subject)
        if detector is not None:
            query = query.where(baselines.c.detector == detector)
        with self.engine.connect() as conn:
            return [
                {
                    "detector": row.detector,
                    "subject": row.subject,
                    "updated_at": as_utc(row.updated_at).isoformat(),
                    "state": row.state,
                }
                for row in conn.execute(query)
            ]
