"""`POST /v1/alerts/{format}`: webhook ingress.

Order of checks, cheapest and least trusting first: token and role (401/403), per-source rate
limit (429), content type (415), body size while reading (413), signature when the source has
secrets (401), parse and validate (422), routing (`orchestrator/routing/`: type, severity,
environment and resources from the sender's fields; 422 for a word it cannot map), admission
under overload (429, `admission.py`),
environment scope of every alert (403), suppression windows (`orchestrator/suppression/`: an
alert one holds is recorded as `AlertSuppressed` and answered with the window's id, no
incident). Only then is anything recorded (`service.py` says
how); the 202 is sent after the audit store and the workflow both have the alerts.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Request

from orchestrator.alerts import service, signatures
from orchestrator.alerts.admission import Busy
from orchestrator.alerts.formats import CONTENT_TYPES, NORMALISERS
from orchestrator.alerts.limits import read_capped
from orchestrator.alerts.models import (
    AcceptedAlert,
    AlertFormat,
    Delivery,
    IngestResponse,
    ParsedAlert,
)
from orchestrator.api.auth import Permission, Principal, can_access, require
from orchestrator.api.deps import (
    get_alert_admission,
    get_alert_ingest,
    get_alert_rate_limiter,
    get_routes,
    get_settings,
    get_store,
    get_suppressions,
    problem_responses,
)
from orchestrator.api.metrics import ALERTS_RECEIVED
from orchestrator.audit import EventStore
from orchestrator.db import quick_read
from orchestrator.domain import AlertStatus
from orchestrator.errors import CryptoError, FirebreakError, Forbidden, UnsupportedMediaType
from orchestrator.principals.service import active_webhook_secrets
from orchestrator.settings import Settings
from orchestrator.suppression import service as suppression
from orchestrator.telemetry import annotate, span
from orchestrator.telemetry.spans import (
    ALERT_COUNT,
    ALERT_FORMAT,
    ALERT_SEVERITY,
    ALERT_TYPE,
    INCIDENT,
)

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
Source = Annotated[Principal, Depends(require(Permission.alerts_write))]


@router.post(
    "/{format}",
    status_code=202,
    responses=problem_responses(401, 403, 409, 413, 415, 422, 429, 503),
    summary="Receive alerts from a detector",
)
async def receive_alerts(
    format: Annotated[AlertFormat, Path(description="Webhook payload format.")],
    request: Request,
    principal: Source,
    settings: Annotated[Settings, Depends(get_settings)],
    store: Annotated[EventStore, Depends(get_store)],
) -> IngestResponse:
    """Record the delivery's alerts and hand them to their incidents; answers 202 with the
    incident ids once both hold them. A retried delivery answers the same ids again."""
    try:
        response = await _receive(format, request, principal, settings, store)
    except FirebreakError as exc:
        outcome = "deferred" if isinstance(exc, Busy) else f"rejected_{exc.status}"
        ALERTS_RECEIVED.labels(format.value, outcome).inc()
        raise
    return response


@router.post(
    "/otlp/v1/logs",
    responses=problem_responses(401, 403, 409, 413, 415, 422, 429, 503),
    summary="Receive GenAI security findings from an OTLP/HTTP exporter's logs",
)
@router.post(
    "/otlp/v1/traces",
    responses=problem_responses(401, 403, 409, 413, 415, 422, 429, 503),
    summary="Receive GenAI security findings from an OTLP/HTTP exporter's traces",
)
async def receive_otlp(
    request: Request,
    principal: Source,
    settings: Annotated[Settings, Depends(get_settings)],
    store: Annotated[EventStore, Depends(get_store)],
) -> IngestResponse:
    """Where a collector's `otlphttp` exporter with `endpoint: <api>/v1/alerts/otlp` sends its
    logs and traces (findings as log records or span events; either path takes either shape).
    Answers 200, as OTLP/HTTP asks; the body is the usual ingest answer (OTLP clients ignore
    fields they do not know)."""
    return await receive_alerts(AlertFormat.otlp, request, principal, settings, store)


async def _receive(
    fmt: AlertFormat,
    request: Request,
    principal: Principal,
    settings: Settings,
    store: EventStore,
) -> IngestResponse:
    limiter = await get_alert_rate_limiter(request)
    await anyio.to_thread.run_sync(limiter.take, principal.name)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CONTENT_TYPES[fmt]:
        allowed = ", ".join(sorted(CONTENT_TYPES[fmt]))
        raise UnsupportedMediaType(f"{fmt.value} alerts must be sent as {allowed}")
    body = await read_capped(
        request.stream(), request.headers.get("content-length"), settings.max_alert_bytes
    )
    headers = {k.lower(): v for k, v in request.headers.items()}
    webhook_id = await _verified_webhook_id(store, principal, headers, body, settings)
    received_at = datetime.now(UTC)
    routes = await get_routes(request)
    parsed = routes.apply(fmt.value, NORMALISERS[fmt](body, headers, principal.name, received_at))
    delivery = Delivery(principal, fmt.value, body, webhook_id, parsed)
    firing = [
        item.alert.workflow_id
        for item in parsed
        if item.forward and item.inherit_from is None and item.alert.status is AlertStatus.firing
    ]
    admission = await get_alert_admission(request)
    traced = partial(_traced, fmt, parsed)
    with span("firebreak.alerts.ingest", traced), admission.admit(firing):
        known = await quick_read(store.engine, service.known, store, delivery)
        if known.previous is not None:
            ALERTS_RECEIVED.labels(fmt.value, "duplicate").inc(len(known.previous.alerts))
            return known.previous
        for alert in known.alerts:
            if not can_access(principal, alert.environment):
                raise Forbidden(
                    f"source {principal.name!r} may not send {alert.environment} alerts"
                )
        held = await suppression.hold(await get_suppressions(request), store, delivery, known)
        ingest = await get_alert_ingest(request)
        response = await ingest.record_and_hand_over(delivery, known, held)
        annotate({INCIDENT: response.incidents})
    for accepted in response.alerts:
        ALERTS_RECEIVED.labels(fmt.value, _outcome(accepted)).inc()
    return response


def _traced(fmt: AlertFormat, parsed: list[ParsedAlert]) -> dict[str, str | int | list[str]]:
    """The ingest span's attributes: Firebreak's vocabulary after routing, never the alert's
    text (titles, labels, resources are the sender's)."""
    return {
        ALERT_FORMAT: fmt.value,
        ALERT_COUNT: len(parsed),
        ALERT_TYPE: sorted({item.alert.type for item in parsed}),
        ALERT_SEVERITY: sorted({item.alert.severity.value for item in parsed}),
    }


def _outcome(accepted: AcceptedAlert) -> str:
    if accepted.suppressed_by is not None:
        return "suppressed"
    return "duplicate" if accepted.duplicate else "accepted"


async def _verified_webhook_id(
    store: EventStore,
    principal: Principal,
    headers: dict[str, str],
    body: bytes,
    settings: Settings,
) -> str | None:
    """The delivery's webhook id: verified when the source has secrets, else as sent."""
    if store.keyring is None:
        raise CryptoError("the event store has no key ring to open webhook secrets with")
    secrets = await quick_read(
        store.engine, active_webhook_secrets, store.engine, store.keyring, principal.id
    )
    if not secrets:
        webhook_id = headers.get("webhook-id") or None
        return webhook_id[: signatures.MAX_ID_CHARS] if webhook_id else None
    return signatures.verify(
        secrets,
        headers,
        body,
        tolerance_seconds=settings.webhook_tolerance_seconds,
        now=time.time(),
    )
