"""`GET /v1/evidence/{digest}`: an auditor or admin reads one collected item.

Imported by the app factory only. The bytes are returned as they were collected (the canonical
JSON document of `evidence.collect`), with their digest in `Repr-Digest` (RFC 9530) so a client
can check what it received, and never cached.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from orchestrator.api.auth import Permission, Principal, require, visible_environments
from orchestrator.api.deps import get_evidence_reader, get_store, problem_responses
from orchestrator.audit import EventStore
from orchestrator.domain import Actor
from orchestrator.evidence import service

router = APIRouter(prefix="/v1/evidence", tags=["evidence"])
Auditor = Annotated[Principal, Depends(require(Permission.audit_read))]


@router.get(
    "/{digest}",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The item's bytes"},
        **problem_responses(401, 403, 404, 422, 503),
    },
)
async def get_evidence(
    digest: Annotated[str, Path(min_length=1, max_length=100)],
    principal: Auditor,
    store: Annotated[EventStore, Depends(get_store)],
    reader: Annotated[service.EvidenceReader, Depends(get_evidence_reader)],
) -> Response:
    """The verified item, if an incident in the caller's environments collected it; the read
    is recorded as `EvidenceRead`. Not found and out of scope answer alike."""
    item, content = await service.read(
        store,
        reader,
        digest,
        environments=visible_environments(principal),
        actor=Actor(id=principal.id, role=principal.role.value),
        via="api",
    )
    checksum = base64.b64encode(bytes.fromhex(item.digest)).decode()
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "Repr-Digest": f"sha-256=:{checksum}:",
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{item.digest}"',
            "X-Firebreak-Incident": item.incident_id,
        },
    )
