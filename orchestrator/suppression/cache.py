"""The windows each alert is checked against, kept in memory per process.

Every alert of every delivery is checked, so the check must cost nothing when nothing is
suppressed and little when something is. A process keeps the windows not ended nor expired
when it last read them, with the `suppression_state.version` it read first. Within `ttl`
seconds of that check an alert costs no database read at all; past it, one read of that one
row says whether anything changed anywhere (a window created or ended on any replica bumps the
version in the same transaction), and only then are the windows read again.

So a window created or ended through another replica takes effect here at most `ttl` seconds
(plus one read) later; one created or ended through this process takes effect at once (the
views `invalidate`). Expiry and start need no read: each alert is judged against the cached
windows' own times, by `clock`, so an expired window never matches, whatever the cache holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from orchestrator.alerts.models import ParsedAlert
from orchestrator.db import quick_read, run_on
from orchestrator.routing.service import first_holding
from orchestrator.suppression.models import Window, state, windows

TTL_SECONDS = 2.0
"""How long a process trusts its windows before reading the version again: the worst-case
lag of a change made through another replica."""

WHAT = "suppression windows"
VERSION = sa.select(state.c.version).where(state.c.id == 1)
LIVE = windows.select().where(
    windows.c.ended_at.is_(None), windows.c.expires_at > sa.bindparam("now")
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def read_version(engine: sa.Engine) -> int:
    return run_on(engine, lambda conn: int(conn.execute(VERSION).scalar_one()), WHAT)


def current_windows(engine: sa.Engine, now: datetime) -> tuple[int, list[Window]]:
    """The version, then every window not ended nor expired at `now`, in one transaction.

    The version is read first: a change committed between the two reads then shows as a newer
    version at the next check (and is read again), never as an old version beside new rows.
    """

    def work(conn: sa.Connection) -> tuple[int, list[Window]]:
        with conn.begin():
            version = int(conn.execute(VERSION).scalar_one())
            rows = conn.execute(LIVE, {"now": now}).all()
        return version, [Window.from_row(row) for row in rows]

    return run_on(engine, work, WHAT)


class ActiveWindows:
    """This process's view of the suppression windows (one per app, `app.state`).

    `clock` is the wall clock windows are judged by (tests move it); `ticks` the monotonic
    clock the `ttl` is measured on.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        ttl: float = TTL_SECONDS,
        clock: Callable[[], datetime] = utc_now,
        ticks: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self.clock = clock
        self._ticks = ticks
        self._windows: tuple[Window, ...] = ()
        self._version: int | None = None
        self._checked_at: float | None = None
        self._generation = 0  # bumped by invalidate: a read begun before it is not trusted
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Read again at the next alert: this process just created or ended a window."""
        self._checked_at = None
        self._version = None
        self._generation += 1

    async def any(self) -> bool:
        """Whether any window may hold an alert now or later (cheap: usually no read)."""
        return bool(await self._current())

    async def matching(self, fmt: str, items: Sequence[ParsedAlert]) -> list[Window | None]:
        """For each alert (already routed), the first window that holds it now, else None."""
        cached = await self._current()
        if not cached:
            return [None] * len(items)
        now = self.clock()
        live = [w for w in cached if w.in_force(now)]
        return [
            first_holding(
                ((w.match, w) for w in live if item.alert.environment in w.environments),
                fmt,
                item,
            )
            for item in items
        ]

    async def _current(self) -> tuple[Window, ...]:
        if self._fresh():
            return self._windows
        async with self._lock:  # one reader per process when the ttl runs out
            if self._fresh():
                return self._windows
            generation = self._generation
            version = await quick_read(self._engine, read_version, self._engine)
            if version != self._version:
                version, found = await quick_read(
                    self._engine, current_windows, self._engine, self.clock()
                )
                self._windows = tuple(sorted(found, key=lambda w: (w.created_at, w.id)))
                self._version = version
            if generation == self._generation:
                self._checked_at = self._ticks()
            else:
                self._version = None
            return self._windows

    def _fresh(self) -> bool:
        checked = self._checked_at
        return checked is not None and self._ticks() - checked < self._ttl
