"""Recording alerts durably and handing them to their incidents, idempotently.

For each alert: its `AlertReceived` event goes to its own stream, with stream and event ids
derived from source + alert id, so a retried alert finds its first record instead of writing a
second; then the incident workflow gets it (signal-with-start); then a receipt maps the alert to
its incident, so later retries answer the same incident id without touching Temporal. A
delivery with a `webhook-id` is also remembered whole: the same id and body answer the first
response again; the same id with another body is refused as a replay.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import anyio
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from orchestrator.alerts.models import AcceptedAlert, IngestResponse, ParsedAlert
from orchestrator.audit import EventStore
from orchestrator.domain import Actor, Alert, EventType, NewEvent
from orchestrator.errors import Conflict, InvalidInput, Unavailable
from orchestrator.principals.models import Principal
from orchestrator.temporal.coalescer import AlertCoalescer

T = TypeVar("T")
EVENT_NAMESPACE = uuid.UUID("5f0c1f0e-7d1a-4c55-9a53-3f1b2a9e0c11")

metadata = sa.MetaData()
deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("response", sa.JSON),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)
receipts = sa.Table(
    "alert_receipts",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("incident_id", sa.String(128), nullable=False),
    sa.Column("workflow_id", sa.String(200), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)


def alert_key(source: str, alert_id: str) -> str:
    return hashlib.sha256(f"{source}\n{alert_id}".encode()).hexdigest()


def alert_stream(source: str, alert_id: str) -> str:
    return f"alert-{alert_key(source, alert_id)[:40]}"


def alert_event_id(source: str, alert_id: str) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, alert_key(source, alert_id)))


@dataclass(frozen=True)
class Delivery:
    """What the ingress knows about one request before recording anything."""

    principal: Principal
    format: str
    body: bytes
    webhook_id: str | None
    alerts: list[ParsedAlert]


def previous_response(engine: sa.Engine, delivery: Delivery) -> IngestResponse | None:
    """The stored answer to this `webhook-id`, or None; a different body is a replay (409)."""
    if delivery.webhook_id is None:
        return None
    query = sa.select(deliveries).where(deliveries.c.key == _delivery_key(delivery))
    row = _run(engine, lambda conn: conn.execute(query).one_or_none())
    if row is None:
        return None
    if row.body_sha256 != hashlib.sha256(delivery.body).hexdigest():
        raise Conflict(f"webhook-id {delivery.webhook_id!r} was already used for another body")
    return IngestResponse.model_validate(row.response) if row.response else None


def resolve_inherited(store: EventStore, source: str, parsed: list[ParsedAlert]) -> list[Alert]:
    """Alerts with inherited fields filled in from the earlier alert they name (422 if none)."""
    alerts = []
    for item in parsed:
        alert = item.alert
        if item.inherit_from is not None:
            earlier = stored_alert(store, source, item.inherit_from)
            if earlier is None:
                raise InvalidInput(
                    f"dedup_key: no earlier alert {item.inherit_from!r} from this source",
                    "dedup_key",
                )
            alert = alert.model_copy(
                update={
                    "type": earlier.type,
                    "severity": earlier.severity,
                    "environment": earlier.environment,
                    "resources": earlier.resources,
                    "title": earlier.title,
                    "labels": earlier.labels,
                    "fingerprint": earlier.fingerprint,
                }
            )
        alerts.append(alert)
    return alerts


def stored_alert(store: EventStore, source: str, alert_id: str) -> Alert | None:
    events = store.read_stream(alert_stream(source, alert_id))
    return Alert.model_validate(events[0].payload["alert"]) if events else None


async def ingest(
    store: EventStore, coalescer: AlertCoalescer, delivery: Delivery, alerts: list[Alert]
) -> IngestResponse:
    """Record and forward each alert, then remember the delivery's answer."""
    engine = store.engine
    source = delivery.principal.name
    raw_ref: str | None = None
    accepted = []
    for item, alert in zip(delivery.alerts, alerts, strict=True):
        key = alert_key(source, alert.id)
        receipt = await anyio.to_thread.run_sync(_receipt, engine, key)
        if receipt is not None:
            accepted.append(_accepted(alert, receipt, duplicate=True))
            continue
        with_raw = raw_ref is None
        recorded = await anyio.to_thread.run_sync(
            _record, store, delivery, alert, raw_ref or alert_event_id(source, alert.id), with_raw
        )
        raw_ref = raw_ref or recorded.raw_ref
        if not item.forward:
            inherited = item.inherit_from and await anyio.to_thread.run_sync(
                _receipt, engine, alert_key(source, item.inherit_from)
            )
            accepted.append(_accepted(alert, inherited or None, duplicate=False))
            continue
        result = await coalescer.submit(recorded)
        await anyio.to_thread.run_sync(
            _store_receipt, engine, key, result.incident_id, result.workflow_id
        )
        accepted.append(_accepted(alert, result.incident_id, duplicate=False))
    response = IngestResponse(
        incidents=list(dict.fromkeys(a.incident_id for a in accepted if a.incident_id)),
        alerts=accepted,
    )
    if delivery.webhook_id is not None:
        await anyio.to_thread.run_sync(_store_delivery, engine, delivery, response)
    return response


def _accepted(alert: Alert, incident_id: str | None, *, duplicate: bool) -> AcceptedAlert:
    return AcceptedAlert(
        alert_id=alert.id, incident_id=incident_id, status=alert.status.value, duplicate=duplicate
    )


def _record(
    store: EventStore, delivery: Delivery, alert: Alert, raw_ref: str, with_raw: bool
) -> Alert:
    """Append `AlertReceived` once; a retry (or a concurrent twin) gets the first record."""
    source = delivery.principal.name
    existing = stored_alert(store, source, alert.id)
    if existing is not None:
        return existing
    alert = alert.model_copy(update={"raw_ref": raw_ref})
    # The alert's text (titles, descriptions, labels) carries captured prompts and outputs, so
    # the full alert is sealed like the raw body; only the routing facts stay in clear.
    payload: dict[str, object] = {
        "alert_id": alert.id,
        "source": alert.source,
        "type": alert.type,
        "severity": alert.severity.value,
        "environment": alert.environment.value,
        "status": alert.status.value,
        "fingerprint": alert.fingerprint,
        "format": delivery.format,
        "webhook_id": delivery.webhook_id,
        "alert": alert.model_dump(mode="json"),
    }
    if with_raw:
        payload["raw"] = delivery.body.decode("utf-8", errors="replace")
    event = NewEvent(
        id=alert_event_id(source, alert.id),
        type=EventType.alert_received.value,
        actor=Actor(id=delivery.principal.id, role=delivery.principal.role.value),
        occurred_at=alert.received_at,
        payload=payload,
        sensitive=("alert", "raw") if with_raw else ("alert",),
    )
    try:
        store.append(alert_stream(source, alert.id), [event], expected_version=0)
    except Conflict:
        stored = stored_alert(store, source, alert.id)
        if stored is None:
            raise
        return stored
    return alert


def _receipt(engine: sa.Engine, key: str) -> str | None:
    query = sa.select(receipts.c.incident_id).where(receipts.c.key == key)
    found: str | None = _run(engine, lambda conn: conn.execute(query).scalar_one_or_none())
    return found


def _store_receipt(engine: sa.Engine, key: str, incident_id: str, workflow_id: str) -> None:
    row = {
        "key": key,
        "incident_id": incident_id,
        "workflow_id": workflow_id,
        "received_at": datetime.now(UTC),
    }
    _insert_once(engine, receipts, row)


def _store_delivery(engine: sa.Engine, delivery: Delivery, response: IngestResponse) -> None:
    row = {
        "key": _delivery_key(delivery),
        "body_sha256": hashlib.sha256(delivery.body).hexdigest(),
        "response": response.model_dump(mode="json"),
        "received_at": datetime.now(UTC),
    }
    _insert_once(engine, deliveries, row)


def _delivery_key(delivery: Delivery) -> str:
    return hashlib.sha256(f"{delivery.principal.name}\n{delivery.webhook_id}".encode()).hexdigest()


def _insert_once(engine: sa.Engine, table: sa.Table, row: dict[str, object]) -> None:
    """Insert, treating an existing row (a concurrent twin request) as done."""
    try:
        _run(engine, lambda conn: conn.execute(sa.insert(table).values(**row)), write=True)
    except IntegrityError:
        return


def _run(engine: sa.Engine, work: Callable[[sa.Connection], T], write: bool = False) -> T:
    try:
        with engine.begin() if write else engine.connect() as conn:
            return work(conn)
    except (OperationalError, ProgrammingError) as exc:
        first = (str(exc.orig).strip().splitlines() or ["database error"])[0]
        raise Unavailable(f"database unavailable: {first}") from None
