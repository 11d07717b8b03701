"""Auditor reads over the event store: paged queries, a streamed export, checkpoints.

The store's API is synchronous; each call runs in a worker thread so the event loop keeps
serving other requests while a large page or a verification walks the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import anyio
import sqlalchemy as sa

from orchestrator.audit import Checkpoint, EventStore, QueryPage
from orchestrator.audit import schema as audit_schema
from orchestrator.auditlog.models import AuditFilter
from orchestrator.timeutil import as_utc

EXPORT_PAGE = 500


async def query(store: EventStore, where: AuditFilter, cursor: int, limit: int) -> QueryPage:
    call = partial(store.query, **where.model_dump(), after_position=cursor, limit=limit)
    return await anyio.to_thread.run_sync(call)


async def export_lines(store: EventStore, where: AuditFilter) -> AsyncIterator[bytes]:
    """JSON Lines, one page in memory at a time however long the log is."""
    cursor: int | None = 0
    while cursor is not None:
        page = await query(store, where, cursor, EXPORT_PAGE)
        yield b"".join(event.model_dump_json().encode() + b"\n" for event in page.events)
        cursor = page.next_cursor


def list_checkpoints(store: EventStore, limit: int) -> list[Checkpoint]:
    """Newest first: the signed heads an auditor compares with copies kept elsewhere."""
    table = audit_schema.checkpoints
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        Checkpoint(
            position=r.position,
            head_hash=r.head_hash,
            created_at=as_utc(r.created_at),
            key_fingerprint=r.key_fingerprint,
            signature=r.signature,
        )
        for r in rows
    ]
