"""How one audit event changes the incidents projection.

Each handler is a function of (current row, event): it reads only the event and the row, never
the clock, so replaying the log from position 0 rebuilds exactly the same table. Payload fields
follow `docs/events.md`; a missing optional field leaves the row as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from orchestrator.domain import (
    TRIAGE_STEP,
    EventType,
    IncidentStatus,
    PendingDecision,
    PhaseName,
    RecordedEvent,
)
from orchestrator.incidents.models import decisions, incidents
from orchestrator.timeutil import as_utc

Row = dict[str, Any]


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str) and value:
        try:
            return as_utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _step_id(event: RecordedEvent) -> str | None:
    value = event.payload.get("step_id")
    return str(value) if value is not None else None


def _without_step(row: Row, step_id: str | None) -> None:
    row["pending"] = [p for p in row["pending"] if p["step_id"] != step_id]


def _add_pending(row: Row, event: RecordedEvent, reason: str) -> None:
    step_id = _step_id(event)
    if step_id is None:
        return
    _without_step(row, step_id)
    payload = event.payload
    try:
        pending = PendingDecision(
            step_id=step_id,
            phase=payload.get("phase"),
            action=payload.get("action"),
            reason=reason,
            approvals_required=int(payload.get("approvals_required") or 1),
            requested_by=payload.get("requested_by"),
            requested_at=as_utc(event.occurred_at),
            deadline=_parse_time(payload.get("deadline")),
        )
    except (ValidationError, TypeError, ValueError):
        return
    row["pending"] = [*row["pending"], pending.model_dump(mode="json")]


def _opened(event: RecordedEvent) -> Row:
    p = event.payload
    at = as_utc(event.occurred_at)
    return {
        "id": event.stream_id,
        "opened_position": event.position,
        "workflow_id": str(p.get("workflow_id") or event.stream_id),
        "run_id": p.get("run_id"),
        "status": IncidentStatus.active.value,
        "type": str(p.get("type", "unknown")),
        "severity": str(p.get("severity", "high")),
        "environment": str(p.get("environment", "prod")),
        "phase": None,
        "title": str(p.get("title", "")),
        "playbook": p.get("playbook"),
        "correlation_key": str(p.get("correlation_key", "")),
        "opened_at": at,
        "closed_at": None,
        "outcome": None,
        "phases": {},
        "pending": [],
        "alert_count": 0,
        "resolved_alert_count": 0,
        "time_to_contain_seconds": None,
    }


def _alert_attached(row: Row, event: RecordedEvent) -> None:
    count = event.payload.get("alert_count")
    row["alert_count"] = count if isinstance(count, int) else row["alert_count"] + 1


def _alert_resolved(row: Row, event: RecordedEvent) -> None:
    count = event.payload.get("resolved_alert_count")
    row["resolved_alert_count"] = (
        count if isinstance(count, int) else row["resolved_alert_count"] + 1
    )


def _phase_started(row: Row, event: RecordedEvent) -> None:
    phase = str(event.payload.get("phase", ""))
    row["phase"] = phase
    times = dict(row["phases"].get(phase, {}))
    times["started_at"] = as_utc(event.occurred_at).isoformat()
    row["phases"] = {**row["phases"], phase: times}


def _phase_completed(row: Row, event: RecordedEvent) -> None:
    phase = str(event.payload.get("phase", ""))
    at = as_utc(event.occurred_at)
    times = dict(row["phases"].get(phase, {}))
    times["completed_at"] = at.isoformat()
    row["phases"] = {**row["phases"], phase: times}
    if phase == PhaseName.containment and row["time_to_contain_seconds"] is None:
        row["time_to_contain_seconds"] = (at - as_utc(row["opened_at"])).total_seconds()


def _step_requested(row: Row, event: RecordedEvent) -> None:
    _add_pending(row, event, "approval")


def _step_failed(row: Row, event: RecordedEvent) -> None:
    _add_pending(row, event, "failure")


def _step_approved(row: Row, event: RecordedEvent) -> None:
    """`approved_by` in the payload is the quorum so far; older events name only `principal`."""
    principal = str(event.payload.get("principal", ""))
    so_far = event.payload.get("approved_by")
    step_id = _step_id(event)
    updated = []
    for pending in row["pending"]:
        if pending["step_id"] == step_id:
            approved = so_far if isinstance(so_far, list) else pending["approved_by"]
            approved = [str(a) for a in approved]
            if principal not in approved:
                approved.append(principal)
            pending = {**pending, "approved_by": approved}
        updated.append(pending)
    row["pending"] = updated


def _step_resolved(row: Row, event: RecordedEvent) -> None:
    _without_step(row, _step_id(event))


def _triaged(row: Row, event: RecordedEvent) -> None:
    """An incident no playbook fits waits for a responder to assign one (step `triage`)."""
    _without_step(row, TRIAGE_STEP)
    requested_by = event.payload.get("requested_by")
    pending = PendingDecision(
        step_id=TRIAGE_STEP,
        phase=None,
        action="triage",
        reason="triage",
        requested_by=str(requested_by) if requested_by is not None else None,
        requested_at=as_utc(event.occurred_at),
    )
    row["pending"] = [*row["pending"], pending.model_dump(mode="json")]


def _playbook_assigned(row: Row, event: RecordedEvent) -> None:
    _without_step(row, TRIAGE_STEP)
    playbook = event.payload.get("playbook")
    row["playbook"] = str(playbook) if playbook is not None else row["playbook"]


def _merged(row: Row, event: RecordedEvent) -> None:
    """The survivor of a merge counts the merged incident's alerts as its own."""
    moved = event.payload.get("alert_count")
    if event.payload.get("merged_from") and isinstance(moved, int):
        row["alert_count"] += moved


def _closed(row: Row, event: RecordedEvent) -> None:
    row["closed_at"] = as_utc(event.occurred_at)
    row["outcome"] = str(event.payload.get("outcome", "closed"))
    row["pending"] = []
    ttc = event.payload.get("time_to_contain_seconds")
    if isinstance(ttc, int | float):
        row["time_to_contain_seconds"] = float(ttc)


def _aborted(row: Row, event: RecordedEvent) -> None:
    row["closed_at"] = as_utc(event.occurred_at)
    row["outcome"] = "aborted"
    row["pending"] = []


Handler = Callable[[Row, RecordedEvent], None]

HANDLERS: dict[str, Handler] = {
    EventType.alert_attached: _alert_attached,
    EventType.alert_resolved: _alert_resolved,
    EventType.phase_started: _phase_started,
    EventType.phase_completed: _phase_completed,
    EventType.step_requested: _step_requested,
    EventType.step_approved: _step_approved,
    EventType.step_rejected: _step_resolved,
    EventType.step_started: _step_resolved,
    EventType.step_succeeded: _step_resolved,
    EventType.step_skipped: _step_resolved,
    EventType.step_failed: _step_failed,
    EventType.incident_triaged: _triaged,
    EventType.playbook_assigned: _playbook_assigned,
    EventType.incident_closed: _closed,
    EventType.incident_aborted: _aborted,
    EventType.incident_merged: _merged,
}

DECISION_EVENTS = {
    EventType.step_approved.value: "approve",
    EventType.step_rejected.value: "reject",
    EventType.playbook_assigned.value: "assign",
}


def status_of(row: Row) -> IncidentStatus:
    if row["outcome"] == "aborted":
        return IncidentStatus.aborted
    if row["closed_at"] is not None:
        return IncidentStatus.closed
    return IncidentStatus.awaiting_decision if row["pending"] else IncidentStatus.active


def _record_decision(conn: sa.Connection, row: Row, event: RecordedEvent) -> None:
    """Keep each decision once (by decision id) with how long the step waited for it."""
    decision_id = str(event.payload.get("decision_id") or event.id)
    if conn.execute(
        sa.select(decisions.c.decision_id).where(decisions.c.decision_id == decision_id)
    ).first():
        return
    step_id = _step_id(event) or ""
    decided_at = as_utc(event.occurred_at)
    requested = next((p for p in row["pending"] if p["step_id"] == step_id), None)
    wait = None
    if requested is not None:
        wait = (
            decided_at - as_utc(datetime.fromisoformat(requested["requested_at"]))
        ).total_seconds()
    conn.execute(
        decisions.insert().values(
            decision_id=decision_id,
            incident_id=row["id"],
            step_id=step_id,
            kind=DECISION_EVENTS[event.type],
            principal=str(event.payload.get("principal", "")),
            decided_at=decided_at,
            wait_seconds=wait,
        )
    )


# What the projection reads at all: alert records and other streams are never decrypted for it.
PROJECTED_TYPES = frozenset({EventType.incident_opened.value, *HANDLERS})


class Fold:
    """Folds a batch of events inside the caller's transaction, one incident row at a time:
    each row is read once, changed in memory by every event of the batch, and written once in
    `flush`, so a burst of `AlertAttached` costs two statements per incident, not two per
    event."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self._rows: dict[str, Row | None] = {}
        self._opened: dict[str, Row] = {}
        self._changed: dict[str, Row] = {}

    def apply(self, event: RecordedEvent) -> None:
        row = self._row(event.stream_id)
        if event.type == EventType.incident_opened:
            if row is None:
                row = _opened(event)
                row |= {"last_position": event.position, "last_event_at": row["opened_at"]}
                self._rows[event.stream_id] = self._opened[event.stream_id] = row
            return
        handler = HANDLERS.get(event.type)
        if handler is None or row is None:
            return
        if event.type in DECISION_EVENTS:
            _record_decision(self._conn, row, event)
        handler(row, event)
        row["status"] = status_of(row).value
        row["last_position"] = event.position
        row["last_event_at"] = as_utc(event.occurred_at)
        self._changed[event.stream_id] = row

    def flush(self) -> None:
        """Write every row the batch opened or changed."""
        if self._opened:
            self._conn.execute(incidents.insert(), list(self._opened.values()))
        for incident_id, row in self._changed.items():
            if incident_id not in self._opened:
                self._conn.execute(incidents.update().where(incidents.c.id == incident_id), row)
        self._opened.clear()
        self._changed.clear()

    def _row(self, incident_id: str) -> Row | None:
        if incident_id not in self._rows:
            query = sa.select(incidents).where(incidents.c.id == incident_id)
            found = self._conn.execute(query).first()
            self._rows[incident_id] = dict(found._mapping) if found is not None else None
        return self._rows[incident_id]
