"""Build an incident's post-incident report from its audit stream.

The stream holds every transition (docs/events.md), so the report is a fold over it: nothing is
asked of the workflow or the projection, and the same incident gives the same report however
long ago it closed. The ledger part asks the store for its checkpoints and a full verification,
which walks the whole chain: a report is made on request, not on a hot path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from orchestrator.audit import Checkpoint, EventStore
from orchestrator.console.formatting import duration
from orchestrator.domain import ActionResult, EventType, PhaseName, RecordedEvent
from orchestrator.errors import NotFound
from orchestrator.reports.models import (
    ActionRecord,
    AlertSummary,
    CompensationRecord,
    DecisionRecord,
    EvidenceRecord,
    IncidentReport,
    LedgerProof,
    Leg,
    PhaseSpan,
    TimelineEntry,
)

CHECKPOINTS_SCANNED = 1000
"""Signed checkpoints looked at for the one that covers the incident (newest first)."""

TIMELINE_FIELDS = ("phase", "step_id", "action", "principal", "reason", "outcome", "error")
DECISION_EVENTS = {
    EventType.step_approved.value: "approve",
    EventType.step_rejected.value: "reject",
    EventType.playbook_assigned.value: "assign playbook",
    EventType.incident_aborted.value: "abort",
}
STEP_STATUS = {
    EventType.step_requested.value: "awaiting_approval",
    EventType.step_approved.value: "approved",
    EventType.step_rejected.value: "rejected",
    EventType.step_started.value: "running",
    EventType.step_succeeded.value: "succeeded",
    EventType.step_failed.value: "failed",
    EventType.step_skipped.value: "skipped",
}
LEG_EVENTS = {"acknowledge": "IncidentAcknowledged", "resolve": "IncidentResolved"}
"""Lifecycle events that end a leg, where the ledger has them; `contain` ends when the
containment phase completes."""


def build_report(
    store: EventStore, incident_id: str, environments: Collection[str]
) -> IncidentReport:
    """The report, or NotFound when the incident is missing or outside `environments` (the two
    look the same to the caller)."""
    events = store.read_stream(incident_id)
    opened = next((e for e in events if e.type == EventType.incident_opened), None)
    if opened is None or str(opened.payload.get("environment")) not in environments:
        raise NotFound(f"no incident {incident_id!r}")
    closed = _last(events, EventType.incident_closed)
    phases = _phases(events)
    return IncidentReport(
        incident_id=incident_id,
        title=str(opened.payload.get("title", "")),
        type=str(opened.payload.get("type", "")),
        severity=str(opened.payload.get("severity", "")),
        environment=str(opened.payload.get("environment", "")),
        playbook=_text(_last_value(events, "playbook", opened)),
        playbook_hash=_text(_last_value(events, "playbook_hash", opened)),
        status=_status(events, closed),
        outcome=_text(closed.payload.get("outcome")) if closed else None,
        opened_at=opened.occurred_at,
        closed_at=closed.occurred_at if closed else None,
        summary=_summary(events, opened, closed),
        legs=_legs(events, opened, phases),
        phases=phases,
        alerts=_alerts(events, opened),
        actions=_actions(events),
        decisions=_decisions(events),
        compensations=_compensations(events),
        evidence=_evidence(events),
        notifications=sum(1 for e in events if e.type == EventType.notification_sent),
        timeline=[_timeline_entry(e) for e in events],
        ledger=_ledger(store, events),
        generated_at=datetime.now(UTC),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _last(events: Iterable[RecordedEvent], type: str) -> RecordedEvent | None:
    found = None
    for event in events:
        if event.type == type:
            found = event
    return found


def _last_value(events: list[RecordedEvent], key: str, opened: RecordedEvent) -> object:
    """The playbook (or its hash) the incident ran: a triage assignment replaces the opening
    one."""
    assigned = _last(events, EventType.playbook_assigned)
    source = assigned if assigned is not None else opened
    return source.payload.get(key)


def _status(events: list[RecordedEvent], closed: RecordedEvent | None) -> str:
    if any(e.type == EventType.incident_aborted for e in events):
        return "aborted"
    return "closed" if closed is not None else "open"


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def _phases(events: list[RecordedEvent]) -> list[PhaseSpan]:
    started: dict[str, datetime] = {}
    completed: dict[str, datetime] = {}
    for event in events:
        phase = event.payload.get("phase")
        if event.type == EventType.phase_started and isinstance(phase, str):
            started.setdefault(phase, event.occurred_at)
        elif event.type == EventType.phase_completed and isinstance(phase, str):
            completed[phase] = event.occurred_at
    return [
        PhaseSpan(
            phase=phase.value,
            started_at=started.get(phase.value),
            completed_at=completed.get(phase.value),
            seconds=_seconds(started.get(phase.value), completed.get(phase.value)),
        )
        for phase in PhaseName
        if phase.value in started
    ]


def _legs(events: list[RecordedEvent], opened: RecordedEvent, phases: list[PhaseSpan]) -> list[Leg]:
    """Time to acknowledge, contain and resolve, each from the opening, with the SLA target and
    breach where the ledger records them (`SlaBreached`: `leg`, `target_seconds`)."""
    ends: dict[str, datetime | None] = {
        name: (found.occurred_at if (found := _first(events, type)) else None)
        for name, type in LEG_EVENTS.items()
    }
    containment = next((p for p in phases if p.phase == PhaseName.containment.value), None)
    ends["contain"] = containment.completed_at if containment else None
    if ends["resolve"] is None:
        recovery = next((p for p in phases if p.phase == PhaseName.recovery.value), None)
        ends["resolve"] = recovery.completed_at if recovery else None
    targets: dict[str, float] = {}
    breached: set[str] = set()
    for event in events:
        leg = event.payload.get("leg")
        target = event.payload.get("target_seconds")
        if isinstance(leg, str) and isinstance(target, int | float):
            targets.setdefault(leg, float(target))
        if event.type == "SlaBreached" and isinstance(leg, str):
            breached.add(leg)
    seconds = {name: _seconds(opened.occurred_at, end) for name, end in ends.items()}
    closed = _last(events, EventType.incident_closed)
    measured = closed.payload.get("time_to_contain_seconds") if closed else None
    if isinstance(measured, int | float):
        # The workflow's own figure (from its start, as the projection and metrics report it).
        seconds["contain"] = float(measured)
    return [
        Leg(
            name=name,
            seconds=seconds[name],
            target_seconds=targets.get(name),
            breached=name in breached,
        )
        for name in ("acknowledge", "contain", "resolve")
    ]


def _result(payload: dict[str, Any]) -> ActionResult | None:
    """The recorded `ActionResult`, or None where the event has none (or one this version cannot
    read: a report never fails on an old event)."""
    raw = payload.get("result")
    if not isinstance(raw, dict):
        return None
    try:
        return ActionResult.model_validate(raw)
    except ValidationError:
        return None


def _first(events: Iterable[RecordedEvent], type: str) -> RecordedEvent | None:
    return next((e for e in events if e.type == type), None)


def _alerts(events: list[RecordedEvent], opened: RecordedEvent) -> AlertSummary:
    firing = [
        e
        for e in events
        if e.type == EventType.alert_attached and e.payload.get("status") != "resolved"
    ]
    resolved = [e for e in events if e.type == EventType.alert_resolved]
    sources = sorted({str(e.payload["source"]) for e in firing if e.payload.get("source")})
    severities = Counter(str(e.payload.get("severity", "")) for e in firing)
    attached = [e.occurred_at for e in firing]
    return AlertSummary(
        count=len(firing),
        resolved=len(resolved),
        first_seen=min(attached, default=None),
        last_seen=max(attached, default=None),
        sources=sources,
        severities=dict(sorted(severities.items())),
        opening_alert_id=_text(opened.payload.get("alert_id")),
    )


def _actions(events: list[RecordedEvent]) -> list[ActionRecord]:
    """Each step's last state, in the order the steps first appeared; approvals and
    compensations are listed on their own."""
    rows: dict[str, dict[str, Any]] = {}
    for event in events:
        status = STEP_STATUS.get(event.type)
        step_id = event.payload.get("step_id")
        if status is None or not isinstance(step_id, str) or step_id == "triage":
            continue
        row = rows.setdefault(
            step_id,
            {
                "phase": str(event.payload.get("phase", "")),
                "step_id": step_id,
                "action": str(event.payload.get("action", "")),
                "attempts": 0,
                "started_at": None,
                "finished_at": None,
            },
        )
        row["status"] = status
        for key in ("phase", "action"):
            if not row[key] and event.payload.get(key):
                row[key] = str(event.payload[key])
        if event.type == EventType.step_started:
            row["attempts"] = int(event.payload.get("attempt", row["attempts"] + 1))
            row["started_at"] = row["started_at"] or event.occurred_at
        elif event.type in (EventType.step_succeeded, EventType.step_failed):
            row["finished_at"] = event.occurred_at
        result = _result(event.payload) if event.type == EventType.step_succeeded else None
        if result is not None:
            row.update(
                changed=result.changed,
                summary=result.summary,
                outputs=dict(result.outputs),
                evidence=list(result.evidence),
                error=None,
            )
        elif event.type == EventType.step_failed:
            row["error"] = _text(event.payload.get("error"))
        elif event.type == EventType.step_skipped:
            row["summary"] = str(event.payload.get("note") or event.payload.get("reason") or "")
    return [ActionRecord.model_validate(row) for row in rows.values()]


def _decisions(events: list[RecordedEvent]) -> list[DecisionRecord]:
    found = []
    for event in events:
        kind = DECISION_EVENTS.get(event.type)
        if kind is None and event.type == EventType.step_skipped and event.payload.get("principal"):
            kind = "skip"
        if kind is None and event.type == EventType.step_started and event.payload.get("principal"):
            kind = "retry"
        if (
            kind is None
            and event.type == EventType.incident_closed
            and event.payload.get("principal")
        ):
            kind = "close"
        if kind is None:
            continue
        found.append(
            DecisionRecord(
                step_id=str(event.payload.get("step_id", "")),
                decision=kind,
                principal=str(event.payload.get("principal") or event.actor.id),
                role=event.actor.role,
                at=event.occurred_at,
                reason=_text(event.payload.get("note") or event.payload.get("reason")),
                decision_id=_text(event.payload.get("decision_id")),
            )
        )
    return found


def _compensations(events: list[RecordedEvent]) -> list[CompensationRecord]:
    found = []
    for event in events:
        if event.type != EventType.step_compensated:
            continue
        result = _result(event.payload)
        summary = result.summary if result else str(event.payload.get("error") or "")
        found.append(
            CompensationRecord(
                phase=str(event.payload.get("phase", "")),
                step_id=str(event.payload.get("step_id", "")),
                action=str(event.payload.get("action", "")),
                at=event.occurred_at,
                ok=not event.payload.get("error"),
                summary=summary,
            )
        )
    return found


def _evidence(events: list[RecordedEvent]) -> list[EvidenceRecord]:
    return [
        EvidenceRecord(step_id=str(e.payload.get("step_id", "")), digest=str(d), at=e.occurred_at)
        for e in events
        if e.type == EventType.evidence_collected
        for d in e.payload.get("digests", [])
    ]


def _timeline_entry(event: RecordedEvent) -> TimelineEntry:
    text = ", ".join(
        f"{key}={event.payload[key]}"
        for key in TIMELINE_FIELDS
        if event.payload.get(key) not in (None, "")
    )
    return TimelineEntry(
        position=event.position,
        at=event.occurred_at,
        type=event.type,
        actor=event.actor.id,
        text=text,
    )


def _summary(
    events: list[RecordedEvent], opened: RecordedEvent, closed: RecordedEvent | None
) -> str:
    """One paragraph a reader can paste into a status update."""
    payload = opened.payload
    done = sum(1 for e in events if e.type == EventType.step_succeeded)
    failed = {e.payload.get("step_id") for e in events if e.type == EventType.step_failed}
    approvals = sum(1 for e in events if e.type == EventType.step_approved)
    text = (
        f"A {payload.get('severity')} {payload.get('type')} incident in "
        f"{payload.get('environment')} opened at {opened.occurred_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    if closed is not None:
        text += (
            f" and closed as {closed.payload.get('outcome')} after "
            f"{duration(_seconds(opened.occurred_at, closed.occurred_at))}"
        )
    else:
        text += " and is still open"
    return (
        f"{text}. {done} step(s) succeeded, {len(failed)} failed at least once, "
        f"{approvals} approval(s) were given."
    )


def _ledger(store: EventStore, events: list[RecordedEvent]) -> LedgerProof:
    positions = [e.position for e in events]
    last = max(positions)
    checkpoints = store.checkpoints(CHECKPOINTS_SCANNED)
    covering: Checkpoint | None = None
    for checkpoint in checkpoints:  # newest first: the last one still covering is the earliest
        if checkpoint.position >= last:
            covering = checkpoint
    return LedgerProof(
        events=[(e.position, e.hash) for e in events],
        first_position=min(positions),
        last_position=last,
        checkpoint=covering,
        latest_checkpoint_position=checkpoints[0].position if checkpoints else None,
        verification=store.verify(),
    )
