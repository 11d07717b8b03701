"""The console's suppression page: the windows in force, a form to create one and a button to
end each, for responders and admins; auditors see the list only.

The forms go through `suppression.service`, the same rules as the API (scope, expiry limits,
the audit events); a mistake the user can fix (a bad condition, an expiry too far) shows on
the page with the reason, 422. Conditions are typed one per line in the one-line form of
`firebreak suppress create --match`. Window text is shown as text (autoescaped).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from orchestrator.api.deps import get_engine, get_suppressions
from orchestrator.console.models import ConsoleSession
from orchestrator.console.rendering import render
from orchestrator.console.routing import ConsoleRoute, page_context, posted, signed_in
from orchestrator.domain import Environment
from orchestrator.errors import InvalidInput
from orchestrator.principals.models import Permission
from orchestrator.routing.models import describe_conditions, parse_condition
from orchestrator.suppression import service
from orchestrator.suppression.models import WindowRequest

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
Reader = Annotated[ConsoleSession, Depends(signed_in(Permission.suppressions_read))]
ManagerPost = Annotated[ConsoleSession, Depends(posted(Permission.suppressions_manage))]
WindowId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]
PAGE = "/console/suppressions"


async def _page(
    request: Request,
    session: ConsoleSession,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    engine = await get_engine(request)
    active = await get_suppressions(request)
    now = active.clock()
    principal = session.principal
    items = await anyio.to_thread.run_sync(
        service.list_windows, engine, principal.environments, now
    )
    context = page_context(
        session,
        items=[(w, describe_conditions(w.match)) for w in items],
        can_manage=principal.has(Permission.suppressions_manage),
        environments=[e for e in Environment if e in principal.environments],
        error=error,
        form=form or {"match": "", "until": "2h", "reason": "", "environments": []},
        ended=request.query_params.get("ended", "")[:32],
        created=request.query_params.get("created", "")[:32],
    )
    return render("suppressions.html", context, status=status)


@router.get("/suppressions")
async def suppressions(request: Request, session: Reader) -> Response:
    return await _page(request, session)


def _request(form: dict[str, Any]) -> WindowRequest:
    """The form as the API's body: one condition a line, a duration or an ISO time."""
    match = dict(parse_condition(line) for line in str(form["match"]).splitlines() if line)
    until = str(form["until"]).strip()
    body: dict[str, Any] = {
        "match": match,
        "reason": form["reason"],
        "environments": form["environments"],
    }
    body |= {"expires_at": until} if "T" in until else {"duration": until}
    return WindowRequest.model_validate(body)


@router.post("/suppressions")
async def create(request: Request, session: ManagerPost) -> Response:
    raw = await request.form()
    form = {
        "match": str(raw.get("match", ""))[:4000],
        "until": str(raw.get("until", ""))[:64],
        "reason": str(raw.get("reason", ""))[:2000],
        "environments": [str(e) for e in raw.getlist("environments")][:3],
    }
    try:
        body = _request(form)
        active = await get_suppressions(request)
        call = partial(
            service.create_window,
            await get_engine(request),
            body,
            session.principal,
            active.clock(),
        )
        window = await anyio.to_thread.run_sync(call)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"] if p != "[key]")
        message = str(err["msg"]).removeprefix("Value error, ")
        return await _page(request, session, error=f"{where}: {message}", form=form, status=422)
    except InvalidInput as exc:
        return await _page(request, session, error=exc.detail, form=form, status=422)
    active.invalidate()
    return RedirectResponse(f"{PAGE}?created={window.id}", status_code=303)


@router.post("/suppressions/{window_id}/end")
async def end(request: Request, window_id: WindowId, session: ManagerPost) -> Response:
    raw = await request.form()
    active = await get_suppressions(request)
    call = partial(
        service.end_window,
        await get_engine(request),
        window_id,
        session.principal,
        str(raw.get("reason", ""))[:2000],
        active.clock(),
    )
    await anyio.to_thread.run_sync(call)
    active.invalidate()
    return RedirectResponse(f"{PAGE}?ended={window_id}", status_code=303)
