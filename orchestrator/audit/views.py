"""The auditors' endpoints over the event store: query, export, verify, checkpoints, signing
keys, and the Merkle proofs an auditor checks offline (docs/audit-ledger.md, "Merkle proofs").

Imported by the app factory only: `orchestrator.audit` itself stays importable without FastAPI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from orchestrator.api.auth import Permission, Principal, require
from orchestrator.api.deps import get_store, problem_responses
from orchestrator.audit import service
from orchestrator.audit.models import (
    AuditFilter,
    AuditPage,
    Checkpoint,
    ExportFormat,
    SigningKey,
    VerificationReport,
)
from orchestrator.audit.proofs import ConsistencyProof, InclusionProof
from orchestrator.audit.store import EventStore

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Auditor = Annotated[Principal, Depends(require(Permission.audit_read))]
Store = Annotated[EventStore, Depends(get_store)]
MAX_LIMIT = 1000
EXPORT_FILES = {
    ExportFormat.jsonl: "firebreak-audit.jsonl",
    ExportFormat.ocsf: "firebreak-audit.ocsf.jsonl",
    ExportFormat.chain: "firebreak-audit.chain.jsonl",
}


def audit_filter(
    incident: Annotated[
        str | None, Query(max_length=200, description="Incident id (= its stream id).")
    ] = None,
    stream: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[list[str] | None, Query(max_length=100, description="Event type(s).")] = None,
    actor: Annotated[str | None, Query(max_length=200, description="Actor id.")] = None,
    since: Annotated[datetime | None, Query(description="occurred_at >= since")] = None,
    until: Annotated[datetime | None, Query(description="occurred_at < until")] = None,
) -> AuditFilter:
    return AuditFilter(stream=incident or stream, types=type, actor=actor, since=since, until=until)


Filter = Annotated[AuditFilter, Depends(audit_filter)]


@router.get("/events", responses=problem_responses(401, 403, 422))
async def events(
    _: Auditor,
    store: Store,
    where: Filter,
    cursor: Annotated[int, Query(ge=0, le=2**62, description="next_cursor of the last page")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> AuditPage:
    """Events matching every filter, in log order; page on with `cursor`."""
    page = await service.query(store, where, cursor, limit)
    return AuditPage(items=page.events, next_cursor=page.next_cursor)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {}},
            "description": "JSON Lines: ledger events, their OCSF records (format=ocsf), or "
            "the values each hash covers as stored (format=chain)",
        },
        **problem_responses(401, 403, 422),
    },
)
async def export(
    _: Auditor,
    store: Store,
    where: Filter,
    format: Annotated[
        ExportFormat,
        Query(
            description="jsonl: the ledger events (sensitive fields decrypted); ocsf: one OCSF "
            "1.5.0 record per event; chain: each event's hashed fields exactly as stored "
            "(sealed fields as ciphertext), to re-check the chain and Merkle roots offline."
        ),
    ] = ExportFormat.jsonl,
) -> StreamingResponse:
    """Matching events as JSON Lines, streamed a page at a time (constant memory)."""
    return StreamingResponse(
        service.export_lines(store, where, format),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{EXPORT_FILES[format]}"'},
    )


@router.get("/verify", responses=problem_responses(401, 403))
async def verify(_: Auditor, store: Store) -> VerificationReport:
    """Walk the hash chain and the signed checkpoints against this server's key files.
    `verdict`: `intact`, `tampered` (`first_bad_position`, `problem`) or `unverified` (the
    chain holds; `unverified` lists checkpoints no trusted key signed); `ok` is `intact`."""
    return await service.verify(store)


@router.get("/checkpoints", responses=problem_responses(401, 403, 422))
async def checkpoints(
    _: Auditor, store: Store, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100
) -> list[Checkpoint]:
    """Signed chain heads, newest first."""
    return await service.checkpoints(store, limit)


@router.get("/keys", responses=problem_responses(401, 403))
async def keys(_: Auditor, store: Store) -> list[SigningKey]:
    """Checkpoint signing keys that have signed, oldest first (verifier keys and PEM): keep
    them outside the database to verify checkpoints with."""
    return await service.signing_keys(store)


TreeSize = Annotated[int, Query(ge=0, le=2**62)]


@router.get("/proofs/inclusion", responses=problem_responses(401, 403, 404, 409, 422))
async def inclusion_proof(
    _: Auditor,
    store: Store,
    event_id: Annotated[str, Query(min_length=1, max_length=64, description="The event's id.")],
    tree_size: Annotated[
        int | None,
        Query(
            ge=1,
            le=2**62,
            description="Events the tree covers; default: the latest signed checkpoint's, "
            "else the head.",
        ),
    ] = None,
) -> InclusionProof:
    """Proof that one event is in the ledger's Merkle tree of `tree_size` events."""
    return await service.inclusion_proof(store, event_id, tree_size)


@router.get("/proofs/consistency", responses=problem_responses(401, 403, 422))
async def consistency_proof(
    _: Auditor, store: Store, old: TreeSize, new: TreeSize
) -> ConsistencyProof:
    """Proof that the ledger's tree of `new` events extends its tree of `old` events."""
    return await service.consistency_proof(store, old, new)
