"""One leader at a time across processes: a PostgreSQL session advisory lock.

Followers of the audit log (the incidents projector, each SIEM sink's forwarder) do their work
in one process at a time: the one holding the lock, which the database releases the moment its
connection ends (a crash, a kill -9, a restart), so another process takes over at its next try.
SQLite is one host's embedded store: every process leads there, and the followers' own
compare-and-set on their position still keeps work from being applied twice.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

__all__ = ["Lease", "lock_key"]


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name` (PostgreSQL's bigint key space)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Lease:
    """Leadership over the advisory lock `key`, kept on a connection of its own."""

    def __init__(self, engine: sa.Engine, key: int) -> None:
        self.engine = engine
        self.key = key
        self._conn: sa.Connection | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the PostgreSQL lock (never on SQLite)."""
        return self._conn is not None

    def leads(self) -> bool:
        """Whether this process leads now: it holds the lock (checked to be still alive), or
        just took it. Always True on SQLite."""
        if self.engine.dialect.name != "postgresql":
            return True
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT 1"))
                self._conn.commit()
                return True
            except sa.exc.DBAPIError:
                self.release()
                return False
        conn = self.engine.connect()
        try:
            held = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(self.key))).scalar())
            conn.commit()
        except sa.exc.DBAPIError:
            conn.close()
            raise
        if not held:
            conn.close()  # holds no lock: back to the pool
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        """Stop leading: the lock's connection is discarded, not returned to the pool, where
        its session (and so the lock) would live on."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.invalidate()
            conn.close()
