"""`GET /v1/incidents/{id}/report`: the post-incident report as JSON, Markdown or HTML.

Readers of incidents may read their reports (same environment scope as the timeline). The HTML
is a standalone document with its stylesheet inline, served under a policy that forbids every
script and every remote load, so alert text that escaped nothing could still do nothing.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response

from orchestrator.api.auth import Permission, Principal, require, visible_environments
from orchestrator.api.deps import get_store, problem_responses
from orchestrator.audit import EventStore
from orchestrator.reports import render
from orchestrator.reports.formats import ReportFormat
from orchestrator.reports.models import IncidentReport
from orchestrator.reports.service import build_report

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
Reader = Annotated[Principal, Depends(require(Permission.incidents_read))]
IncidentId = Annotated[str, Path(min_length=1, max_length=200)]
STANDALONE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
MEDIA_TYPES = {ReportFormat.md: "text/markdown; charset=utf-8", ReportFormat.html: "text/html"}


@router.get(
    "/{incident_id}/report",
    responses={
        **problem_responses(401, 403, 404, 422),
        200: {
            "model": IncidentReport,
            "content": {"text/markdown": {}, "text/html": {}},
            "description": "The report in the asked format.",
        },
    },
)
async def report(
    incident_id: IncidentId,
    principal: Reader,
    store: Annotated[EventStore, Depends(get_store)],
    format: Annotated[ReportFormat, Query(description="json, md or html")] = ReportFormat.json,
) -> Response:
    """The post-incident report, built from the incident's audit stream on request (it walks
    the whole ledger to verify it, so it is not for polling)."""
    call = partial(build_report, store, incident_id, visible_environments(principal))
    built = await anyio.to_thread.run_sync(call)
    headers = {"Cache-Control": "no-store"}
    if format is ReportFormat.json:
        return JSONResponse(built.as_json(), headers=headers)
    if format is ReportFormat.md:
        body = render.to_markdown(built)
    else:
        body = render.to_html(built, standalone=True)
        headers |= {
            "Content-Security-Policy": STANDALONE_POLICY,
            "X-Content-Type-Options": "nosniff",
        }
    return Response(body, media_type=MEDIA_TYPES[format], headers=headers)
