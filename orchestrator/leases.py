"""One leader at a time across processes: a PostgreSQL session advisory lock.

Followers of the audit log (the incidents projector, each SIEM sink's forwarder) do their work
in one process at a time: the one holding the lock, which the database releases the moment its
connection ends (a crash, a kill -9, a restart), so another process takes over at its next try.
SQLite is one host's embedded store: every process leads there, and the followers' own
compare-and-set on their position still keeps work from being applied twice.

`lead_repeatedly` is the loop both the projector and the worker's scheduled prune run under
their lease: the work every interval while this process leads, through database outages.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable

import anyio
import sqlalchemy as sa

from orchestrator.db import database_unavailable
from orchestrator.errors import FirebreakError

__all__ = ["Lease", "lead_repeatedly", "lock_key"]

log = logging.getLogger(__name__)


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
        """Stop leading: the lock is unlocked, so another process may take it at once (a
        closed session's locks go only when the server has seen it end), and the connection
        is discarded, not returned to the pool, where its session would live on."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(sa.exc.DBAPIError):  # a dead session holds nothing
                conn.execute(sa.select(sa.func.pg_advisory_unlock(self.key)))
                conn.commit()
            conn.invalidate()
            conn.close()


async def lead_repeatedly(
    lease: Lease, work: Callable[[], object], interval: float, what: str
) -> None:
    """Run the blocking `work` in a thread now and every `interval` seconds whenever this
    process leads `lease`, until cancelled; the lease goes when the loop ends.

    A database outage must not end the loop: the work resumes afterwards, on whichever process
    leads by then (this one gives the lease up). `what` names it in one warning per outage
    (and again if the reason changes), not one per round, and in one when it resumes."""
    paused: str | None = None
    try:
        while True:
            try:
                if await anyio.to_thread.run_sync(lease.leads):
                    await anyio.to_thread.run_sync(work)
            except (sa.exc.SQLAlchemyError, FirebreakError) as exc:
                lease.release()
                reason = _reason(exc)
                if reason != paused:
                    log.warning("%s paused: %s", what, reason)
                paused = reason
            else:
                if paused is not None:
                    log.warning("%s resumed", what)
                paused = None
            await anyio.sleep(interval)
    finally:
        lease.release()


def _reason(exc: Exception) -> str:
    if isinstance(exc, FirebreakError):
        return exc.detail
    if isinstance(exc, sa.exc.DBAPIError):
        return database_unavailable(exc, "event store").detail
    return type(exc).__name__
