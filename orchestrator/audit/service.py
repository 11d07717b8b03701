"""The auditors' reads for the API and the console: paged queries, a streamed export,
verification, checkpoints, Merkle proofs.

The store's API is synchronous; each call runs in a worker thread so the event loop keeps
serving other requests while a large page or a verification walks the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import anyio

from orchestrator.audit.models import (
    AuditFilter,
    Checkpoint,
    ExportFormat,
    QueryPage,
    SigningKey,
    VerificationReport,
)
from orchestrator.audit.proofs import ConsistencyProof, InclusionProof
from orchestrator.audit.store import EventStore


async def query(store: EventStore, where: AuditFilter, cursor: int, limit: int) -> QueryPage:
    call = partial(store.query, **where.model_dump(), after_position=cursor, limit=limit)
    return await anyio.to_thread.run_sync(call)


async def export_lines(
    store: EventStore, where: AuditFilter, format: ExportFormat = ExportFormat.jsonl
) -> AsyncIterator[bytes]:
    """`EventStore.export_pages` for a streamed response, each page read in a worker thread."""
    pages = store.export_pages(where, format=format)

    def next_page() -> str | None:
        return next(pages, None)

    while (lines := await anyio.to_thread.run_sync(next_page)) is not None:
        yield lines.encode()


async def checkpoints(store: EventStore, limit: int) -> list[Checkpoint]:
    """`EventStore.checkpoints`: the latest signed chain heads, newest first."""
    return await anyio.to_thread.run_sync(store.checkpoints, limit)


async def verify(store: EventStore) -> VerificationReport:
    """`EventStore.verify` against the store's own checkpoint key."""
    return await anyio.to_thread.run_sync(store.verify)


async def signing_keys(store: EventStore) -> list[SigningKey]:
    """`EventStore.signing_keys`: every checkpoint key that has signed, oldest first."""
    return await anyio.to_thread.run_sync(store.signing_keys)


async def inclusion_proof(store: EventStore, event_id: str, size: int | None) -> InclusionProof:
    """`EventStore.inclusion_proof`; the first proof on a grown log extends the stored tree."""
    return await anyio.to_thread.run_sync(store.inclusion_proof, event_id, size)


async def consistency_proof(store: EventStore, old: int, new: int) -> ConsistencyProof:
    """`EventStore.consistency_proof`."""
    return await anyio.to_thread.run_sync(store.consistency_proof, old, new)
