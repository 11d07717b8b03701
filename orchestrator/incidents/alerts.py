"""An incident's alerts as people read them: grouped by fingerprint, newest first, a page at a
time, each group shown through its latest alert.

The receipts (`alert_receipts`) say which alerts went to the incident; each alert's
`AlertReceived` event holds it. Grouping reads those events' clear routing fields only
(`first_events_sealed`), so a storm of 2,000 alerts costs one read of small rows, not 2,000
decryptions; only the latest alert of each group on the page is opened. The alert text is
the sender's (attacker-controlled) words: callers show it escaped, never interpreted. Who may
read it is the caller's business: the incident endpoints let `incidents:read` principals read
the incidents of their environments, and check the scope before calling here.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, Field

from orchestrator.alerts.ids import stream_of_key
from orchestrator.alerts.models import receipts
from orchestrator.audit import EventStore
from orchestrator.domain import Alert, AlertLink, AlertStatus, RecordedEvent, Severity
from orchestrator.errors import InvalidInput

MAX_SCANNED = 20_000
"""Receipts read per request (the newest); an incident with more says it was cut."""
MAX_GROUPS_PAGE = 100
WEB_SCHEMES = ("http://", "https://")

RECEIPTS_OF_INCIDENT = (
    sa.select(receipts.c.key)
    .where(receipts.c.incident_id == sa.bindparam("incident_id"))
    .order_by(receipts.c.received_at.desc())
    .limit(MAX_SCANNED)
)


class LinkView(BaseModel):
    href: str
    text: str
    web: bool = Field(description="An http(s) address, which pages may link; else text only.")


class AlertView(BaseModel):
    """One alert as the sender described it."""

    id: str
    source: str
    status: AlertStatus
    severity: Severity
    title: str
    description: str
    labels: dict[str, str]
    annotations: dict[str, str]
    links: list[LinkView]
    started_at: datetime | None
    received_at: datetime
    route: str | None


class AlertGroup(BaseModel):
    """Alerts with one fingerprint: one condition, however often it fired."""

    fingerprint: str
    count: int = Field(description="Alerts of this fingerprint attached to the incident.")
    resolved: int = Field(description="Of them, resolutions.")
    first_seen: datetime
    last_seen: datetime
    latest: AlertView


class AlertGroupPage(BaseModel):
    """`GET /v1/incidents/{id}/alerts`: the incident's alert groups, latest first."""

    incident_id: str
    total: int = Field(description="Alerts read for this answer (at most MAX_SCANNED).")
    truncated: bool = Field(description="True when the incident has more alerts than were read.")
    groups: list[AlertGroup]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next groups.")


class _Tally:
    def __init__(self, event: RecordedEvent) -> None:
        self.count = 0
        self.resolved = 0
        self.first_seen = event.occurred_at
        self.last: RecordedEvent = event

    def add(self, event: RecordedEvent) -> None:
        self.count += 1
        self.resolved += event.payload.get("status") == AlertStatus.resolved.value
        self.first_seen = min(self.first_seen, event.occurred_at)
        if event.position > self.last.position:
            self.last = event


def incident_alerts(
    store: EventStore, incident_id: str, *, limit: int = 20, cursor: str | None = None
) -> AlertGroupPage:
    """The page of `incident_id`'s alert groups after `cursor` (an offset this returned)."""
    offset = _offset(cursor)
    limit = max(1, min(limit, MAX_GROUPS_PAGE))
    with store.engine.connect() as conn:
        keys = list(conn.execute(RECEIPTS_OF_INCIDENT, {"incident_id": incident_id}).scalars())
    events = store.first_events_sealed([stream_of_key(key) for key in keys])
    tallies: dict[str, _Tally] = {}
    for event in events:
        fingerprint = str(event.payload.get("fingerprint", ""))
        tally = tallies.get(fingerprint) or tallies.setdefault(fingerprint, _Tally(event))
        tally.add(event)
    ordered = sorted(tallies.items(), key=lambda item: item[1].last.position, reverse=True)
    page = ordered[offset : offset + limit]
    groups = [
        AlertGroup(
            fingerprint=fingerprint,
            count=tally.count,
            resolved=tally.resolved,
            first_seen=tally.first_seen,
            last_seen=tally.last.occurred_at,
            latest=_opened(store, tally.last),
        )
        for fingerprint, tally in page
    ]
    more = offset + limit < len(ordered)
    return AlertGroupPage(
        incident_id=incident_id,
        total=len(events),
        truncated=len(keys) >= MAX_SCANNED,
        groups=groups,
        next_cursor=str(offset + limit) if more else None,
    )


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 9:
        raise InvalidInput("cursor: not a cursor returned by this API", field="cursor")
    return int(cursor)


def _opened(store: EventStore, sealed: RecordedEvent) -> AlertView:
    [event, *_] = store.read_stream(sealed.stream_id)
    return alert_view(Alert.model_validate(event.payload["alert"]))


def alert_view(alert: Alert) -> AlertView:
    shown = alert.model_dump(include=set(AlertView.model_fields) - {"links"})
    return AlertView(**shown, links=[_link(link) for link in alert.links])


def _link(link: AlertLink) -> LinkView:
    return LinkView(href=link.href, text=link.text, web=link.href.lower().startswith(WEB_SCHEMES))
