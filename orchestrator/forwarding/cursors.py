"""Each sink's durable cursor: the last ledger position the sink acknowledged.

The cursor moves only after the sink took a batch, and only from the position the batch was
read at (compare-and-set): a crash between the two re-sends the batch (at least once, never a
skip), and two forwarders of the same sink never move it backwards. Failures are written to the
same row, so the API reports a failing sink whichever process forwards to it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from orchestrator.db import writing
from orchestrator.forwarding.models import SinkStatus, cursors
from orchestrator.timeutil import as_utc

MAX_ERROR_CHARS = 500


class Cursors:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def ensure(self, sink: str) -> None:
        """Create the sink's row at position 0 unless it exists (a new sink starts at the
        beginning of the ledger: a SIEM gets the whole history)."""
        with self.engine.connect() as conn:
            if conn.execute(sa.select(cursors.c.sink).where(cursors.c.sink == sink)).first():
                return
        try:
            with writing(self.engine) as conn:
                conn.execute(
                    cursors.insert().values(
                        sink=sink,
                        position=0,
                        forwarded=0,
                        errors=0,
                        updated_at=datetime.now(UTC),
                    )
                )
        except sa.exc.IntegrityError:
            pass  # another forwarder created it first

    def position(self, sink: str) -> int:
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(cursors.c.position).where(cursors.c.sink == sink)
            ).scalar()
        return int(found or 0)

    def advance(self, sink: str, start: int, end: int, count: int) -> bool:
        """Move the cursor from `start` to `end` after the sink acknowledged `count` records,
        and clear its failure; False (nothing changed) if another forwarder moved it first."""
        with writing(self.engine) as conn:
            moved = conn.execute(
                cursors.update()
                .where(cursors.c.sink == sink, cursors.c.position == start)
                .values(
                    position=end,
                    forwarded=cursors.c.forwarded + count,
                    last_error=None,
                    failing_since=None,
                    updated_at=datetime.now(UTC),
                )
            ).rowcount
        return bool(moved)

    def failed(self, sink: str, reason: str) -> None:
        """Count a failed attempt and keep its reason (already free of secrets)."""
        now = datetime.now(UTC)
        with writing(self.engine) as conn:
            conn.execute(
                cursors.update()
                .where(cursors.c.sink == sink)
                .values(
                    errors=cursors.c.errors + 1,
                    last_error=reason[:MAX_ERROR_CHARS],
                    failing_since=sa.func.coalesce(cursors.c.failing_since, now),
                    updated_at=now,
                )
            )

    def statuses(self, head: int) -> list[SinkStatus]:
        """Every sink's row, by name, with its lag behind the ledger head `head`."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(cursors).order_by(cursors.c.sink)).all()
        return [
            SinkStatus(
                sink=row.sink,
                position=row.position,
                lag=max(0, head - row.position),
                forwarded=row.forwarded,
                errors=row.errors,
                last_error=row.last_error,
                failing_since=as_utc(row.failing_since),
                updated_at=as_utc(row.updated_at),
            )
            for row in rows
        ]
