"""Baselines in the database (`detector_baselines`, migration 0015).

One row per detector and subject holding the detector's exported state as JSON. The runner
loads a subject's row when its events first arrive (`find`, one query per batch, so the
memory held is the subjects in use, not every subject ever stored), saves the changed ones
every `save_every_seconds`, on stop, and when the engine evicts an idle subject. Replicas
that see the same subject share the row: the last writer wins for that subject (each
replica's state is a full baseline, not a delta, so a lost write costs a little learning,
never a corrupt baseline); replicas fed disjoint partitions of the traffic (by caller or key)
never contend.
"""

from __future__ import annotations

from collections import defaultdict
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

    def find(self, wanted: Iterable[tuple[str, str]]) -> list[Baseline]:
        """The stored baselines of these `(detector, subject)` pairs (those that have one),
        under the subject names asked for (stored names are cut at MAX_SUBJECT_CHARS)."""
        by_detector: dict[str, dict[str, str]] = defaultdict(dict)
        for detector, subject in wanted:
            by_detector[detector][subject[:MAX_SUBJECT_CHARS]] = subject
        found = []
        with self.engine.connect() as conn:
            for detector, names in by_detector.items():
                stored = list(names)
                for start in range(0, len(stored), SAVE_BATCH):
                    query = sa.select(baselines.c.subject, baselines.c.state).where(
                        baselines.c.detector == detector,
                        baselines.c.subject.in_(stored[start : start + SAVE_BATCH]),
                    )
                    for row in conn.execute(query):
                        found.append(Baseline(detector, names[row.subject], dict(row.state)))
        return found

    def count(self, detectors: Iterable[str] | None = None) -> int:
        """How many baselines are stored (of `detectors`, if given)."""
        query = sa.select(sa.func.count()).select_from(baselines)
        if detectors is not None:
            query = query.where(baselines.c.detector.in_(list(detectors)))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

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
