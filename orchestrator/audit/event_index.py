"""The auditors' lookup table (``audit_event_index``): each event's id, type, actor and time by
position, indexed for the filtered queries and the lookups by event id.

It is derived from ``audit_events`` and kept off the append path, where every index leaf is
written under the head lock that all writers queue on (migrations/versions/0019). Whoever
reads through it extends it first, up to the head it sees:

- what is stored is always a prefix of the log: each chunk is the contiguous run of events
  after the stored size, inserted in one transaction, so the stored size is the highest stored
  position;
- two processes extending at once insert the same rows and the second ignores the first's,
  on the primary key;
- a lookup that must see every committed event (`by_id`) reads the table up to a size it is
  known to hold and the events after that directly, in one statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa

from orchestrator.audit import schema
from orchestrator.db import run_on, upsert

T = TypeVar("T")
EXTEND_CHUNK = 50_000
"""Events per extending transaction: bounded transactions (SQLite writers wait for each), and
progress that survives an interrupted extension."""

_events = schema.events
_index = schema.event_index
INDEXED_SIZE = sa.select(sa.func.coalesce(sa.func.max(_index.c.position), 0))
READ_HEAD = sa.select(schema.head.c.position).where(schema.head.c.id == 1)
SIZES = sa.select(INDEXED_SIZE.scalar_subquery(), READ_HEAD.scalar_subquery())
"""(stored size, head) in one round trip: what every read through the table asks first."""
INDEXED = (
    _index.c.position,
    _index.c.event_id,
    _index.c.type,
    _index.c.actor_id,
    _index.c.occurred_at,
)
FROM_EVENTS = sa.select(
    _events.c.position,
    _events.c.event_id,
    _events.c.type,
    _events.c.actor_id,
    _events.c.occurred_at,
).where(_events.c.position > sa.bindparam("after"), _events.c.position <= sa.bindparam("upto"))


Selectable = sa.Table | sa.ColumnElement[Any]
INDEXED_ID = _index.c.event_id.label("indexed_id")
"""The lookup row's event id, read beside the event's by a filtered query (`page`)."""


def joined(columns: Sequence[Selectable] | None = None) -> sa.Select[Any]:
    """SELECT of `audit_events` rows (or `columns`) through the lookup table, joined on the
    position and the event id: a lookup row left over from a log an owner cut and appended
    to again matches nothing rather than another event."""
    on = sa.and_(_index.c.position == _events.c.position, _index.c.event_id == _events.c.event_id)
    return sa.select(*(columns or [_events])).join(_index, on)


def page(condition: sa.ColumnElement[bool], after_position: int, limit: int) -> sa.Select[Any]:
    """The `audit_events` rows of the first `limit` lookup rows after `after_position` that
    match `condition` (on the table's columns), in position order, each with `indexed_id`.

    The page's positions are chosen on the lookup table alone, then joined: joined first,
    PostgreSQL costs every candidate row's join and walks the table's primary key from the
    cursor to avoid them, reading most of a 1M-event log for an hour late in it
    (docs/benchmarks.md, "Audit store"). The caller keeps the rows whose `indexed_id` is
    their event id: a lookup row of another event (a cut log) selects nothing."""
    chosen = (
        sa.select(_index.c.position, INDEXED_ID)
        .where(_index.c.position > after_position, condition)
        .order_by(_index.c.position)
        .limit(limit)
        .subquery("chosen")
    )
    return (
        sa.select(_events, chosen.c.indexed_id)
        .join(chosen, chosen.c.position == _events.c.position)
        .order_by(_events.c.position)
    )


def by_id(columns: Sequence[Selectable] | None = None) -> sa.CompoundSelect[Any]:
    """The events (or their `columns`) whose ids are in the expanding parameter `event_ids`,
    every one committed up to this statement, given in `indexed` a size the lookup table is
    known to hold (`EventIndex.extend`'s answer): the table for the events up to it, the
    events after it read directly by their primary key. Passed as a value, the bound lets
    the planner see how short that range is; a subquery for the stored size would leave
    it guessing a third of the log and scanning all of it (docs/benchmarks.md)."""
    selected: list[Selectable] = list(columns or [_events])
    listed: sa.BindParameter[list[str]] = sa.bindparam("event_ids", expanding=True)
    indexed: sa.BindParameter[int] = sa.bindparam("indexed")
    stored = joined(selected).where(_index.c.event_id.in_(listed), _index.c.position <= indexed)
    newer = sa.select(*selected).where(_events.c.position > indexed, _events.c.event_id.in_(listed))
    return sa.union_all(stored, newer)


def _insert(statement: Any, conn: sa.Connection, *, after: int, upto: int) -> None:
    conn.execute(statement, {"after": after, "upto": upto})


class EventIndex:
    """The lookup table of one database, extended on demand."""

    def __init__(self, engine: sa.Engine, chunk: int = EXTEND_CHUNK) -> None:
        self.engine = engine
        self.chunk = chunk
        self._extending = (
            upsert(engine, _index)
            .from_select([c.name for c in INDEXED], FROM_EVENTS)
            .on_conflict_do_nothing()
        )

    def stored_size(self) -> int:
        """How many events the table holds (positions 1 to this)."""
        return int(self._run(lambda conn: conn.execute(INDEXED_SIZE).scalar_one()))

    def extend(self, size: int | None = None) -> int:
        """Store the lookup rows of the events up to `size` (default: the head); return the
        stored size. Called by every read through the table, so nobody has to remember to;
        idempotent and safe to run from several processes at once. When the table is up to
        date this is one query."""
        stored, head = self._run(lambda conn: tuple(conn.execute(SIZES).one()))
        size = int(head) if size is None else size
        stored = int(stored)
        while stored < size:
            upto = min(size, stored + self.chunk)
            self._run(partial(_insert, self._extending, after=stored, upto=upto), write=True)
            stored = upto
        return stored

    def _run(self, work: Callable[[sa.Connection], T], *, write: bool = False) -> T:
        return run_on(self.engine, work, "audit event index", write=write)
