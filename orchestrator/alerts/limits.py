"""Ingress limits: a body size cap enforced while reading, and a per-source rate limit.

The rate limit is a token bucket per source in the event-store database, shared by every API
replica, refilled continuously; a refused request learns from `Retry-After` when a token is
due.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from orchestrator.db import (
    DATABASE_ERRORS,
    database_unavailable,
    make_autocommit_engine,
    upsert,
    writing,
)
from orchestrator.errors import InvalidInput, PayloadTooLarge, RateLimited

metadata = sa.MetaData()
budgets = sa.Table(
    "rate_budgets",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("refilled_at", sa.Float, nullable=False),
)


async def read_capped(
    stream: AsyncIterator[bytes], declared_length: str | None, limit: int
) -> bytes:
    """The body, refusing (413) as soon as it is known to exceed `limit` bytes."""
    if declared_length is not None:
        try:
            declared = int(declared_length)
        except ValueError:
            raise InvalidInput("content-length is not an integer", "content-length") from None
        if declared > limit:
            raise PayloadTooLarge(f"body of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


class RateLimiter:
    """`per_minute` requests per key, with bursts up to the same number, counted in the
    database at `url` so every API replica spends the same budget.

    Each key's bucket is a row of `rate_budgets` (migration `0008`): its tokens and when they
    were last refilled, in seconds since the epoch. An admitted request costs one UPDATE that
    refills, checks and spends in a single statement, so two replicas can never both spend the
    last token; a refused one reads the row once more to say when the next token is due. On
    PostgreSQL the statements run on an engine of their own that commits each one without
    waiting for the WAL flush (a budget lost in a crash is a few tokens refilled early, not a
    missing fact; figures in docs/production.md). A replica whose clock runs behind the last
    writer's refills nothing rather than going back in time.
    """

    def __init__(self, url: str, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self.engine = make_autocommit_engine(url)
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._statements()

    def close(self) -> None:
        self.engine.dispose()

    def take(self, key: str) -> None:
        """Spend one token of `key`'s budget, or raise `RateLimited` with the wait."""
        now = self.clock()
        try:
            with self._connection() as conn:
                # A second round only when another replica created the row in between.
                for _ in range(2):
                    if self._spend(conn, key, now):
                        return
                    tokens = self._tokens(conn, key, now)
                    if tokens < 1.0:
                        break
        except DATABASE_ERRORS as exc:
            assert isinstance(exc, DBAPIError)
            raise database_unavailable(exc, "rate limit store") from None
        wait = max(1, math.ceil((1.0 - tokens) / self.rate))
        raise RateLimited(f"source {key!r} is over its rate limit", retry_after=wait)

    def _connection(self) -> AbstractContextManager[sa.Connection]:
        """SQLite: a queued write transaction; PostgreSQL: autocommit, a statement each."""
        if self.engine.dialect.name == "sqlite":
            return writing(self.engine)
        return self.engine.connect()

    def _spend(self, conn: sa.Connection, key: str, now: float) -> bool:
        params = {"source": key, "at": now}
        if conn.execute(self._spent, params).first() is not None:
            return True
        return conn.execute(self._first, params).first() is not None

    def _tokens(self, conn: sa.Connection, key: str, now: float) -> float:
        return float(conn.execute(self._left, {"source": key, "at": now}).scalar_one())

    def _statements(self) -> None:
        """Built once, so a request pays for executing them, not for composing them."""
        key, now = sa.bindparam("source", type_=sa.Text), sa.bindparam("at", type_=sa.Float)
        elapsed = sa.case((budgets.c.refilled_at < now, now - budgets.c.refilled_at), else_=0.0)
        tokens = budgets.c.tokens + elapsed * self.rate
        refilled = sa.case((tokens > self.capacity, self.capacity), else_=tokens)
        later = sa.case((budgets.c.refilled_at < now, now), else_=budgets.c.refilled_at)
        self._spent = (
            budgets.update()
            .where(budgets.c.key == key, refilled >= 1.0)
            .values(tokens=refilled - 1.0, refilled_at=later)
            .returning(budgets.c.key)
        )
        self._first = (
            upsert(self.engine, budgets)
            .values(key=key, tokens=self.capacity - 1.0, refilled_at=now)
            .on_conflict_do_nothing()
            .returning(budgets.c.key)
        )
        self._left = sa.select(refilled).where(budgets.c.key == key)
