"""`/v1/suppressions`: responders and admins create and end suppression windows within their
environment scope; auditors (and they) read them. Sources cannot do either.

A change made here takes effect on this replica's next alert and on the others' within the
cache's ttl (`cache.py`).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, Path, Query

from orchestrator.api.auth import Permission, Principal, require
from orchestrator.api.deps import get_engine, get_suppressions, problem_responses
from orchestrator.suppression import service
from orchestrator.suppression.cache import ActiveWindows
from orchestrator.suppression.models import EndRequest, WindowList, WindowRequest, WindowView

router = APIRouter(prefix="/v1/suppressions", tags=["suppressions"])
Reader = Annotated[Principal, Depends(require(Permission.suppressions_read))]
Manager = Annotated[Principal, Depends(require(Permission.suppressions_manage))]
Engine = Annotated[sa.Engine, Depends(get_engine)]
Windows = Annotated[ActiveWindows, Depends(get_suppressions)]
WindowId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]


@router.post("", status_code=201, responses=problem_responses(401, 403, 422, 503))
async def create_suppression(
    body: WindowRequest, principal: Manager, engine: Engine, active: Windows
) -> WindowView:
    """Hold the alerts matching `match` in `environments` from `starts_at` (default now) until
    `expires_at` or for `duration`; at most 30 days from now. Recorded as
    `SuppressionCreated`."""
    now = active.clock()
    call = partial(service.create_window, engine, body, principal, now)
    window = await anyio.to_thread.run_sync(call)
    active.invalidate()
    return service.view(window, now)


@router.get("", responses=problem_responses(401, 403, 422))
async def list_suppressions(
    principal: Reader,
    engine: Engine,
    active: Windows,
    state: Annotated[
        Literal["current", "all"],
        Query(description="`current`: active and scheduled; `all`: also ended and expired."),
    ] = "current",
) -> WindowList:
    """Windows sharing an environment with the caller's scope."""
    call = partial(
        service.list_windows, engine, principal.environments, active.clock(), past=state == "all"
    )
    return WindowList(items=await anyio.to_thread.run_sync(call))


@router.get("/{window_id}", responses=problem_responses(401, 403, 404, 422))
async def get_suppression(
    window_id: WindowId, principal: Reader, engine: Engine, active: Windows
) -> WindowView:
    """One window; 404 when it shares no environment with the caller's scope."""
    window = await anyio.to_thread.run_sync(
        service.get_window, engine, window_id, principal.environments
    )
    return service.view(window, active.clock())


@router.post("/{window_id}/end", responses=problem_responses(401, 403, 404, 409, 422, 503))
async def end_suppression(
    window_id: WindowId,
    principal: Manager,
    engine: Engine,
    active: Windows,
    body: Annotated[EndRequest | None, Body()] = None,
) -> WindowView:
    """End a window before its expiry (409 if it already ended or expired); matching alerts
    open incidents again. Recorded as `SuppressionEnded`."""
    now = active.clock()
    reason = body.reason if body is not None else ""
    call = partial(service.end_window, engine, window_id, principal, reason, now)
    window = await anyio.to_thread.run_sync(call)
    active.invalidate()
    return service.view(window, now)
