"""The console's routes: sign-in and out, incidents, one incident and its decisions,
approvals, audit, metrics, and the two static files.

Pages call the same read services as the API (`incidents.service`, `temporal.incidents`,
`audit.service`) and decisions go through `approvals.service.decide_as`, so RBAC, scope and
the workflow's validator are exactly the API's. Routes are left out of the OpenAPI document:
they answer HTML to a browser with a session cookie, not JSON to a bearer token.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.resources import files
from typing import Annotated
from urllib.parse import quote, urlencode

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError

from orchestrator.api.auth import visible_environments
from orchestrator.api.deps import get_engine, get_settings, get_store, get_temporal
from orchestrator.approvals.models import DecisionAccepted, DecisionRequest
from orchestrator.approvals.service import decide_as, follow_as
from orchestrator.audit import EventStore
from orchestrator.audit import service as audit_service
from orchestrator.console import incident_view, service, suppression_view
from orchestrator.console.audit_view import VerificationCache, parse_cursor, parse_search
from orchestrator.console.charts import Bar, bar_chart
from orchestrator.console.formatting import duration
from orchestrator.console.models import ConsoleSession
from orchestrator.console.rendering import render
from orchestrator.console.routing import (
    ConsoleRoute,
    current_session,
    error_page,
    page_context,
    posted,
    safe_next,
    signed_in,
)
from orchestrator.console.security import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    check_origin,
    clear_cookie,
    new_token,
    read_cookie,
    set_cookie,
)
from orchestrator.console.stats import summarise
from orchestrator.correlation.merging import merge_as
from orchestrator.correlation.models import MergeBody
from orchestrator.domain import (
    DecisionKind,
    Environment,
    EventType,
    IncidentStatus,
    Severity,
    Slug,
)
from orchestrator.errors import Conflict, FirebreakError, Forbidden, InvalidInput, NotFound
from orchestrator.incidents import alerts as incident_alerts
from orchestrator.incidents import service as incidents
from orchestrator.principals.models import Permission
from orchestrator.reports import render as report_render
from orchestrator.reports.service import build_report
from orchestrator.settings import Settings

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
root = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

Reader = Annotated[ConsoleSession, Depends(signed_in(Permission.incidents_read))]
Decider = Annotated[ConsoleSession, Depends(signed_in(Permission.incidents_decide))]
DecisionPost = Annotated[ConsoleSession, Depends(posted(Permission.incidents_decide))]
SignOutPost = Annotated[ConsoleSession, Depends(posted(Permission.incidents_read))]
Auditor = Annotated[ConsoleSession, Depends(signed_in(Permission.audit_read))]
Engine = Annotated[sa.Engine, Depends(get_engine)]
Store = Annotated[EventStore, Depends(get_store)]
IncidentId = Annotated[str, Path(min_length=1, max_length=200)]
AUDIT_PAGE = 50
ALERT_GROUPS_SHOWN = 20
"""Alert groups on the incident page; the API pages through the rest."""
STATIC = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "report.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


def install(app: FastAPI) -> None:
    """Mount the console on `app` (called once by the app factory)."""
    app.state.console_verification = VerificationCache()
    app.include_router(root)
    app.include_router(router)
    app.include_router(suppression_view.router)
    app.include_router(fallback)


@root.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/console/incidents", status_code=303)


@router.get("")
async def console_home() -> RedirectResponse:
    return RedirectResponse("/console/incidents", status_code=303)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    media_type = STATIC.get(name)
    if media_type is None:
        raise NotFound(f"no static file {name!r}")
    body = files("orchestrator.console").joinpath("static", name).read_bytes()
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})


# --- signing in and out -------------------------------------------------------------------


def _login_page(
    request: Request, next_path: str, *, error: str | None = None, status: int = 200
) -> Response:
    """The sign-in form with a fresh double-submit token (cookie + hidden field)."""
    token = new_token()
    response = render(
        "login.html", {"csrf_token": token, "next": next_path, "error": error}, status=status
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("/login")
async def login_form(
    request: Request, next: Annotated[str, Query(max_length=500)] = ""
) -> Response:
    return _login_page(request, safe_next(next))


@router.post("/login")
async def login(
    request: Request, engine: Engine, settings: Annotated[Settings, Depends(get_settings)]
) -> Response:
    """Exchange an API token for a session; the token itself is never stored in the browser."""
    check_origin(request)
    form = await request.form()
    check_csrf(read_cookie(request, LOGIN_CSRF_COOKIE), form.get(CSRF_FIELD))
    next_path = safe_next(str(form.get("next", "")))
    token = str(form.get("token", "")).strip()
    lifetime = timedelta(seconds=settings.console_session_seconds)
    try:
        started = await anyio.to_thread.run_sync(service.sign_in, engine, token, lifetime)
    except FirebreakError as exc:
        return _login_page(request, next_path, error=exc.detail, status=exc.status)
    if started is None:
        return _login_page(
            request, next_path, error="That token is unknown or revoked.", status=401
        )
    previous = read_cookie(request, SESSION_COOKIE)
    if previous:
        await anyio.to_thread.run_sync(service.sign_out, engine, previous)
    session_id, _ = started
    response = RedirectResponse(next_path, status_code=303)
    set_cookie(
        request, response, SESSION_COOKIE, session_id, max_age=settings.console_session_seconds
    )
    clear_cookie(request, response, LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, _: SignOutPost, engine: Engine) -> Response:
    session_id = read_cookie(request, SESSION_COOKIE)
    if session_id:
        await anyio.to_thread.run_sync(service.sign_out, engine, session_id)
    response = RedirectResponse("/console/login", status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    return response


# --- incidents -------------------------------------------------------------------------------


@router.get("/incidents")
async def incident_list(
    session: Reader,
    engine: Engine,
    status: IncidentStatus | None = None,
    type: Slug | None = None,
    severity: Severity | None = None,
    environment: Environment | None = None,
    cursor: Annotated[str | None, Query(max_length=18)] = None,
) -> Response:
    call = partial(
        incidents.list_incidents,
        engine,
        visible_environments(session.principal),
        status=status,
        type=type,
        severity=severity,
        environment=environment,
        cursor=cursor or None,
    )
    page = await anyio.to_thread.run_sync(call)
    filters = {
        "status": status.value if status else "",
        "type": type or "",
        "severity": severity.value if severity else "",
        "environment": environment.value if environment else "",
    }
    context = page_context(
        session,
        page=page,
        filters=filters,
        statuses=list(IncidentStatus),
        severities=list(Severity),
        environments=[e for e in Environment if e in session.principal.environments],
        next_query=urlencode({k: v for k, v in filters.items() if v}),
    )
    return render("incidents.html", context)


async def _followed(
    request: Request, session: ConsoleSession, store: EventStore, incident_id: str
) -> tuple[str | None, str | None]:
    """For a page shown after a decision no worker had applied (`?pending=ID`): the decision
    id while it is still held, or the refusal once a worker refused it."""
    decision_id = request.query_params.get("pending", "")[:128]
    step_id = request.query_params.get("step", "")[:64]
    if not decision_id or not step_id:
        return None, None
    try:
        client = await get_temporal(request)
        answer = await follow_as(
            session.principal, client, store, incident_id, step_id, decision_id
        )
    except (Forbidden, Conflict) as exc:
        return None, exc.detail
    except NotFound:
        return None, (
            "The decision is no longer held: it was refused when a worker judged it (the step "
            "may have moved on), or lost when Temporal restarted. Decide again if it still waits."
        )
    except FirebreakError:
        return decision_id, None
    return (answer.decision_id if isinstance(answer, DecisionAccepted) else None), None


async def _incident_page(
    request: Request,
    session: ConsoleSession,
    incident_id: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    engine = await get_engine(request)
    store = await get_store(request)
    settings = await get_settings(request)
    detail, live = await incidents.get_incident_live(
        engine, incident_id, visible_environments(session.principal), partial(get_temporal, request)
    )
    events = await anyio.to_thread.run_sync(store.read_stream, incident_id)
    alert_groups = await anyio.to_thread.run_sync(
        partial(incident_alerts.incident_alerts, store, incident_id, limit=ALERT_GROUPS_SHOWN)
    )
    now = datetime.now(UTC)
    steps = (
        incident_view.steps_from_live(live, settings)
        if live
        else incident_view.steps_from_stream(events, settings)
    )
    pending = live.pending if live else detail.pending
    decided = request.query_params.get("decided", "")
    held, refused = await _followed(request, session, store, incident_id)
    if refused is not None:
        decided, error = "", error or refused
    context = page_context(
        session,
        incident=detail,
        live=live,
        phases=incident_view.phase_rows(detail, now),
        steps=steps,
        pending=incident_view.pending_rows(pending, session.principal),
        triage_reason=live.triage.reason if live and live.triage else None,
        playbooks=incident_view.assignable_playbooks(pending, settings),
        timeline=incident_view.timeline_rows(events),
        alerts=alert_groups,
        decided=decided if decided in DecisionKind.__members__ else "",
        decided_step=request.query_params.get("step", "")[:64],
        held=held,
        error=error,
        form_id=uuid.uuid4().hex,
        open_for=(detail.closed_at or now) - detail.opened_at,
        merged=request.query_params.get("merged") == "1",
        merged_into=incident_view.merged_into(events),
    )
    return render("incident.html", context, status=status)


@router.get("/incidents/{incident_id}")
async def incident_page(request: Request, incident_id: IncidentId, session: Reader) -> Response:
    return await _incident_page(request, session, incident_id)


@router.get("/incidents/{incident_id}/report")
async def incident_report(incident_id: IncidentId, session: Reader, store: Store) -> Response:
    """The printable post-incident report (the same document `firebreak incidents report
    --format html` writes), under the console's own headers and stylesheet."""
    call = partial(build_report, store, incident_id, visible_environments(session.principal))
    built = await anyio.to_thread.run_sync(call)
    return HTMLResponse(
        report_render.to_html(built, standalone=False), headers={"Cache-Control": "no-store"}
    )


@router.post("/incidents/{incident_id}/steps/{step_id}/decisions")
async def decide(
    request: Request,
    incident_id: IncidentId,
    step_id: Annotated[str, Path(min_length=1, max_length=64)],
    session: DecisionPost,
    store: Store,
) -> Response:
    """Approve, reject, retry, skip or abort from a form, or assign a playbook to an incident in
    triage (or close it), through the API's own decision path.

    A refusal the responder can fix (no reason for a rejection, a step that moved on) shows on
    the incident page; one they cannot (out of scope, wrong role) is an error page.
    """
    form = await request.form()
    kind = str(form.get("decision", ""))
    form_id = str(form.get("form_id", ""))[:64]
    try:
        playbook = str(form.get("playbook", "")).strip() if kind == "assign" else ""
        body = DecisionRequest(
            decision=kind,
            reason=str(form.get("reason", "")),
            decision_id=f"console-{form_id}-{kind}" if form_id.isalnum() else None,
            playbook=playbook or None,
        )
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        return await _incident_page(request, session, incident_id, error=f"{message}.", status=422)
    try:
        client = await get_temporal(request)
        answer = await decide_as(session.principal, client, store, incident_id, step_id, body)
    except Conflict as exc:
        return await _incident_page(request, session, incident_id, error=exc.detail, status=409)
    target = f"/console/incidents/{incident_id}?decided={body.decision.value}&step={step_id}"
    if isinstance(answer, DecisionAccepted):
        target += f"&pending={quote(answer.decision_id)}"
    return RedirectResponse(target, status_code=303)


@router.post("/incidents/{incident_id}/merge")
async def merge(
    request: Request, incident_id: IncidentId, session: DecisionPost, store: Store
) -> Response:
    """Merge this incident into another from the incident page, through the API's own merge
    (`correlation.merging.merge_as`). A refusal the responder can fix (an unknown or closed
    survivor, no reason, the incident itself) shows on the page; out of scope is an error page.
    """
    form = await request.form()
    try:
        body = MergeBody(into=str(form.get("into", "")).strip(), reason=str(form.get("reason", "")))
    except ValidationError as exc:
        err = exc.errors()[0]
        message = f"{err['loc'][-1]}: {err['msg']}"
        return await _incident_page(request, session, incident_id, error=f"{message}.", status=422)
    try:
        client = await get_temporal(request)
        answer = await merge_as(session.principal, client, store, incident_id, body)
    except (Conflict, InvalidInput, NotFound) as exc:
        status = 404 if isinstance(exc, NotFound) else exc.status
        return await _incident_page(request, session, incident_id, error=exc.detail, status=status)
    return RedirectResponse(f"/console/incidents/{quote(answer.into)}?merged=1", status_code=303)


@router.get("/approvals")
async def approvals(session: Decider, engine: Engine) -> Response:
    principal = session.principal
    items = await anyio.to_thread.run_sync(
        incidents.pending_for, engine, principal.name, visible_environments(principal)
    )
    return render("approvals.html", page_context(session, items=items))


# --- audit -----------------------------------------------------------------------------------


@router.get("/audit")
async def audit(request: Request, session: Auditor, store: Store) -> Response:
    error = None
    search = parse_search({})
    cursor = 0
    try:
        search = parse_search(dict(request.query_params))
        cursor = parse_cursor(request.query_params.get("cursor"))
        page = await audit_service.query(store, search.where, cursor, AUDIT_PAGE)
    except FirebreakError as exc:
        error = exc.detail
        page = await audit_service.query(store, parse_search({}).where, 0, AUDIT_PAGE)
    checkpoints = await audit_service.checkpoints(store, 1)
    latest = checkpoints[0] if checkpoints else None
    cache: VerificationCache = request.app.state.console_verification
    report = await cache.get(store, latest)
    context = page_context(
        session,
        search=search,
        page=page,
        cursor=cursor,
        error=error,
        report=report,
        checkpoint=latest,
        details={e.position: incident_view.payload_fields(e.payload) for e in page.events},
        event_types=[t.value for t in EventType],
    )
    return render("audit.html", context, status=422 if error else 200)


@router.get("/audit/export")
async def audit_export(request: Request, _: Auditor, store: Store) -> Response:
    search = parse_search(dict(request.query_params))
    return StreamingResponse(
        audit_service.export_lines(store, search.where),
        media_type="application/x-ndjson",
        headers={
            "Content-Disposition": 'attachment; filename="firebreak-audit.jsonl"',
            "Cache-Control": "no-store",
        },
    )


# --- metrics ---------------------------------------------------------------------------------


@router.get("/metrics")
async def metrics(
    session: Reader, engine: Engine, settings: Annotated[Settings, Depends(get_settings)]
) -> Response:
    now = datetime.now(UTC)
    summary = await anyio.to_thread.run_sync(
        summarise, engine, visible_environments(session.principal), now
    )
    open_chart = bar_chart(
        "Open incidents by status",
        [Bar(s.replace("_", " "), n, str(n)) for s, n in summary.open_by_status.items()],
    )
    severity_chart = bar_chart(
        "Open incidents by severity",
        [
            Bar(sev.value, n, str(n))
            for sev in reversed(Severity)
            for n in [summary.open_by_severity.get(sev.value, 0)]
        ],
    )
    approvals_chart = bar_chart(
        "Approvals waiting by environment",
        [Bar(env, n, str(n)) for env, n in summary.approvals_by_environment.items()],
    )
    containment_bars = []
    for label, spread in summary.containment.items():
        containment_bars.append(Bar(f"p50, {label}", spread.p50, duration(spread.p50)))
        containment_bars.append(
            Bar(f"p90, {label}", spread.p90, duration(spread.p90), kind="secondary")
        )
    targets = {r.severity.value: r.contain_seconds for r in settings.sla if r.type is None}
    sla_bars = []
    for severity in reversed(Severity):
        target = targets.get(severity.value)
        measured = summary.containment_by_severity.get(severity.value)
        if target is None and measured is None:
            continue
        p90 = measured.p90 if measured else None
        sla_bars.append(Bar(f"{severity.value} p90", p90, duration(p90)))
        sla_bars.append(Bar(f"{severity.value} target", target, duration(target), kind="secondary"))
    phase_bars = []
    for phase, spread in summary.phases.items():
        phase_bars.append(Bar(f"{phase} p50", spread.p50, duration(spread.p50)))
        phase_bars.append(Bar(f"{phase} p90", spread.p90, duration(spread.p90), "secondary"))
    context = page_context(
        session,
        summary=summary,
        open_chart=open_chart,
        severity_chart=severity_chart,
        approvals_chart=approvals_chart,
        containment_chart=bar_chart("Time to containment", containment_bars),
        sla_chart=bar_chart("Time to containment against the SLA target", sla_bars),
        phase_chart=bar_chart("Phase durations, last 7 days", phase_bars),
    )
    return render("metrics.html", context)


# --- anything else under /console ------------------------------------------------------------

fallback = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)


@fallback.get("/{rest:path}")
async def not_found(rest: str, _: Annotated[ConsoleSession, Depends(current_session)]) -> Response:
    """Unknown console paths get the console's own 404 page (after sign-in, so the console's
    layout is not probed anonymously); `/console/` is the console itself."""
    if not rest:
        return RedirectResponse("/console/incidents", status_code=303)
    return error_page(404, "Not found", "There is no such page in the console.")
