"""What happens when an alert arrives: the ingress reads what it already holds, then records,
hands over and remembers, each step safe to repeat.

`views.py` checks the request (token, limits, signature, format, scope) and builds a
`Delivery`; then, for the alerts it carries:

1. `known` reads, before anything is written, what the database holds: the answer to the
   delivery's `webhook-id` (the same id and body answer the first response again; the same id
   with another body is refused as a replay), the earlier alerts a follow-up inherits its
   fields from, the receipts of alerts already handed to an incident, and whether an alert's
   own incident was merged into another.
2. `Ingest.record_and_hand_over` writes the rest. First, an alert whose route correlates by
   entity, or whose incident was merged, is pointed at the incident that holds it
   (`orchestrator.correlation.service`: one atomic claim per entity). Each new alert's
   `AlertReceived` event goes to its own stream, under the stream and event ids that `ids.py`
   derives from source + alert id, so a retried alert finds its first record instead of
   writing a second; then the incident workflow gets it (signal-with-start); then a receipt
   maps the alert to its incident, so later retries answer the same incident id without
   touching Temporal. Last, a delivery with a `webhook-id` is remembered whole with its answer.

Concurrent requests share each step: their records go in one transaction, their receipts and
answers in another (`GroupCommit`), and the alerts of one incident travel in one signal
(`AlertCoalescer`), so a burst pays per batch instead of per alert.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TypeVar

import anyio
import sqlalchemy as sa

from orchestrator.alerts.ids import (
    alert_event_id,
    alert_key,
    alert_stream,
    delivery_key,
    suppressed_stream,
)
from orchestrator.alerts.models import (
    AcceptedAlert,
    Delivery,
    IngestResponse,
    Known,
    ParsedAlert,
    deliveries,
    receipts,
)
from orchestrator.audit import EventStore, StreamAppend
from orchestrator.correlation.service import correlate, merge_redirects, needs_claims
from orchestrator.db import run_on, upsert
from orchestrator.domain import Actor, Alert, EventType, NewEvent, SubmitResult
from orchestrator.errors import ConcurrencyError, Conflict, FirebreakError, InvalidInput
from orchestrator.groupcommit import GroupCommit
from orchestrator.temporal.coalescer import AlertCoalescer

T = TypeVar("T")

# Built once: SQLAlchemy caches a statement object's compiled form by its cache key, which a
# statement built per request has to recompute (figures: docs/benchmarks.md, "The alert
# path's reads are built once").
RECEIPTS_OF = sa.select(receipts.c.key, receipts.c.incident_id).where(
    receipts.c.key.in_(sa.bindparam("keys", expanding=True))
)
DELIVERY_OF = sa.select(deliveries).where(deliveries.c.key == sa.bindparam("key"))


def known(store: EventStore, delivery: Delivery) -> Known:
    """The stored answer to this delivery's `webhook-id` (a different body is a replay: 409);
    otherwise its alerts, inherited fields filled in (422 if the earlier alert is unknown), and
    the incidents of alerts already handed over, by alert key."""
    previous = _previous_response(store.engine, delivery)
    if previous is not None:
        return Known(previous, [], {})
    source = delivery.principal.name
    alerts = _resolve_inherited(store, source, delivery.alerts)
    ids = [a.id for a in alerts] + [i.inherit_from for i in delivery.alerts if i.inherit_from]
    keys = sorted({alert_key(source, alert_id) for alert_id in ids})

    def read(conn: sa.Connection) -> Known:
        rows = conn.execute(RECEIPTS_OF, {"keys": keys}).all()
        incidents = {key: incident_id for key, incident_id in rows}
        return Known(None, alerts, incidents, merge_redirects(conn, alerts))

    return _run(store.engine, read)


def _previous_response(engine: sa.Engine, delivery: Delivery) -> IngestResponse | None:
    if delivery.webhook_id is None:
        return None
    key = delivery_key(delivery.principal.name, delivery.webhook_id)
    row = _run(engine, lambda conn: conn.execute(DELIVERY_OF, {"key": key}).one_or_none())
    if row is None:
        return None
    if row.body_sha256 != hashlib.sha256(delivery.body).hexdigest():
        raise Conflict(f"webhook-id {delivery.webhook_id!r} was already used for another body")
    return IngestResponse.model_validate(row.response) if row.response else None


def _resolve_inherited(store: EventStore, source: str, parsed: list[ParsedAlert]) -> list[Alert]:
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
                    "route": earlier.route,
                    "route_hash": earlier.route_hash,
                    "correlation": earlier.correlation,
                }
            )
        alerts.append(alert)
    return alerts


def stored_alert(store: EventStore, source: str, alert_id: str) -> Alert | None:
    """The alert as first recorded: received, or else held by a suppression window (a
    follow-up of a suppressed alert still takes its fields)."""
    events = store.read_stream(alert_stream(source, alert_id)) or store.read_stream(
        suppressed_stream(source, alert_id)
    )
    return Alert.model_validate(events[0].payload["alert"]) if events else None


Rows = list[tuple[sa.Table, dict[str, object]]]


class Ingest:
    """The write side of ingress: records, signals and receipts, each grouped. One per app
    (`orchestrator.api.deps.get_alert_ingest`): grouping only helps if every request of the
    process shares it."""

    def __init__(self, store: EventStore, coalescer: AlertCoalescer) -> None:
        self._store = store
        self._coalescer = coalescer
        self._records: GroupCommit[None, tuple[Delivery, list[Alert]], list[Alert]] = GroupCommit(
            self._flush_records
        )
        self._rows: GroupCommit[None, Rows, None] = GroupCommit(self._flush_rows)

    async def record_and_hand_over(
        self, delivery: Delivery, known: Known, suppressed: Mapping[str, str] | None = None
    ) -> IngestResponse:
        """Record and hand over each alert not handed over before, then remember the receipts
        and the answer (step 2 of the module's docstring). `suppressed` (alert id -> window
        id) are alerts a suppression window held: recorded already, handed to nothing."""
        source = delivery.principal.name
        held = suppressed or {}
        keys = {alert.id: alert_key(source, alert.id) for alert in known.alerts}
        pairs = list(zip(delivery.alerts, known.alerts, strict=True))
        fresh = [
            (item, alert)
            for item, alert in pairs
            if keys[alert.id] not in known.incidents and alert.id not in held
        ]
        fresh = await self._correlated(fresh, known.redirects)
        recorded = (
            await self._records.submit(None, (delivery, [a for _, a in fresh])) if fresh else []
        )
        handed = await asyncio.gather(
            *(
                self._hand_over(item, alert)
                for (item, _), alert in zip(fresh, recorded, strict=True)
            )
        )
        incident_of: dict[str, str | None] = {
            key: known.incidents[key] for key in keys.values() if key in known.incidents
        }
        rows: Rows = []
        incident_of.update(dict.fromkeys((keys[a] for a in held), None))
        for (item, alert), result in zip(fresh, handed, strict=True):
            key = keys[alert.id]
            if result is None:  # recorded only: shown on the incident of the alert it follows
                followed = item.inherit_from and alert_key(source, item.inherit_from)
                incident_of[key] = known.incidents.get(followed) if followed else None
                continue
            incident_of[key] = result.incident_id
            rows.append((receipts, _receipt_row(key, result)))
        accepted = [
            _accepted(
                alert,
                incident_of[keys[alert.id]],
                duplicate=keys[alert.id] in known.incidents,
                suppressed_by=held.get(alert.id),
            )
            for _, alert in pairs
        ]
        response = IngestResponse(
            incidents=list(dict.fromkeys(a.incident_id for a in accepted if a.incident_id)),
            alerts=accepted,
        )
        if delivery.webhook_id is not None:
            webhook_key = delivery_key(source, delivery.webhook_id)
            rows.append((deliveries, _delivery_row(webhook_key, delivery, response)))
        if rows:
            await self._rows.submit(None, rows)
        return response

    async def _correlated(
        self, fresh: list[tuple[ParsedAlert, Alert]], redirects: dict[str, str]
    ) -> list[tuple[ParsedAlert, Alert]]:
        """The alerts handed over with the incident each joins by entity or merge
        (`orchestrator.correlation.service`); a delivery with neither writes nothing."""
        handed = [(item, alert) for item, alert in fresh if item.forward]
        alerts = [alert for _, alert in handed]
        if not needs_claims(alerts, redirects):
            return fresh
        joined = await anyio.to_thread.run_sync(
            lambda: _run(
                self._store.engine, lambda conn: correlate(conn, alerts, redirects), write=True
            )
        )
        by_id = {alert.id: alert for alert in joined}
        return [(item, by_id.get(alert.id, alert)) for item, alert in fresh]

    async def _hand_over(self, item: ParsedAlert, alert: Alert) -> SubmitResult | None:
        return await self._coalescer.submit(alert) if item.forward else None

    async def _flush_records(
        self, _key: None, batch: list[tuple[Delivery, list[Alert]]]
    ) -> list[list[Alert] | BaseException]:
        return await anyio.to_thread.run_sync(_record_all, self._store, batch)

    async def _flush_rows(self, _key: None, batch: list[Rows]) -> list[None]:
        rows = [row for rows in batch for row in rows]
        await anyio.to_thread.run_sync(_insert_all, self._store.engine, rows)
        return [None] * len(batch)


def _accepted(
    alert: Alert, incident_id: str | None, *, duplicate: bool, suppressed_by: str | None
) -> AcceptedAlert:
    return AcceptedAlert(
        alert_id=alert.id,
        incident_id=incident_id,
        status=alert.status.value,
        duplicate=duplicate,
        suppressed_by=suppressed_by,
    )


def _record_all(
    store: EventStore, batch: list[tuple[Delivery, list[Alert]]]
) -> list[list[Alert] | BaseException]:
    """Append every delivery's `AlertReceived` events in one transaction; a retried alert (or a
    concurrent twin) gets its first record back. The first alert of a delivery carries the raw
    body; the others point at it."""
    appends: list[StreamAppend] = []
    with_refs: list[list[Alert]] = []
    for delivery, alerts in batch:
        source = delivery.principal.name
        raw_ref = alert_event_id(source, alerts[0].id)
        refs = [alert.model_copy(update={"raw_ref": raw_ref}) for alert in alerts]
        with_refs.append(refs)
        appends.extend(
            StreamAppend(
                alert_stream(source, alert.id),
                [_alert_event(delivery, alert, with_raw=index == 0)],
                expected_version=0,
            )
            for index, alert in enumerate(refs)
        )
    outcomes = iter(store.append_many(appends))
    results: list[list[Alert] | BaseException] = []
    for (delivery, _), refs in zip(batch, with_refs, strict=True):
        settled = [_settle(store, delivery, alert, next(outcomes)) for alert in refs]
        failed = next((o for o in settled if isinstance(o, BaseException)), None)
        results.append(
            failed if failed is not None else [o for o in settled if isinstance(o, Alert)]
        )
    return results


def _settle(
    store: EventStore, delivery: Delivery, alert: Alert, outcome: list[int] | FirebreakError
) -> Alert | FirebreakError:
    if not isinstance(outcome, FirebreakError):
        return alert
    if isinstance(outcome, Conflict | ConcurrencyError):
        stored = stored_alert(store, delivery.principal.name, alert.id)
        if stored is not None:
            return stored
    return outcome


def alert_payload(delivery: Delivery, alert: Alert) -> dict[str, object]:
    """What a record of an alert holds (`AlertReceived`, `AlertSuppressed`): the routing facts
    in clear and the whole alert, which the event must name `sensitive`: its text (titles,
    descriptions, labels) carries captured prompts and outputs."""
    return {
        "alert_id": alert.id,
        "source": alert.source,
        "type": alert.type,
        "severity": alert.severity.value,
        "environment": alert.environment.value,
        "status": alert.status.value,
        "fingerprint": alert.fingerprint,
        "format": delivery.format,
        "webhook_id": delivery.webhook_id,
        "route": alert.route,
        "route_hash": alert.route_hash,
        "alert": alert.model_dump(mode="json"),
    }


def _alert_event(delivery: Delivery, alert: Alert, *, with_raw: bool) -> NewEvent:
    # The full alert is sealed like the raw body; only the routing facts stay in clear.
    payload = alert_payload(delivery, alert)
    if alert.joined is not None:  # where entity correlation or a merge sends it, and why
        payload["joined"] = alert.joined.model_dump(mode="json")
    if with_raw:
        payload["raw"] = delivery.body.decode("utf-8", errors="replace")
    return NewEvent(
        id=alert_event_id(delivery.principal.name, alert.id),
        type=EventType.alert_received.value,
        actor=Actor(id=delivery.principal.id, role=delivery.principal.role.value),
        occurred_at=alert.received_at,
        payload=payload,
        sensitive=("alert", "raw") if with_raw else ("alert",),
    )


def _receipt_row(key: str, result: SubmitResult) -> dict[str, object]:
    return {
        "key": key,
        "incident_id": result.incident_id,
        "workflow_id": result.workflow_id,
        "received_at": datetime.now(UTC),
    }


def _delivery_row(key: str, delivery: Delivery, response: IngestResponse) -> dict[str, object]:
    return {
        "key": key,
        "body_sha256": hashlib.sha256(delivery.body).hexdigest(),
        "response": response.model_dump(mode="json"),
        "received_at": datetime.now(UTC),
    }


def _insert_all(engine: sa.Engine, rows: Rows) -> None:
    """Insert every row in one transaction; a row already there (a twin request) is kept."""
    tables = {table.name: table for table, _ in rows}

    def work(conn: sa.Connection) -> None:
        for name, table in tables.items():
            values = [row for t, row in rows if t.name == name]
            conn.execute(upsert(engine, table).on_conflict_do_nothing(), values)

    _run(engine, work, write=True)


def _run(engine: sa.Engine, work: Callable[[sa.Connection], T], write: bool = False) -> T:
    return run_on(engine, work, "database", write=write)
