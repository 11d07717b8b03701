"""What the incident page shows, assembled from the services that already know it.

Phases and pending decisions come from the projection (or, while the incident runs, the
workflow's own live state); steps from the live state, or for a closed incident from its audit
stream, which holds every step transition. Nothing here queries the database itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator.domain import (
    ActionResult,
    EventType,
    IncidentState,
    PendingDecision,
    PhaseName,
    RecordedEvent,
    StepState,
    StepStatus,
)
from orchestrator.errors import InvalidInput
from orchestrator.incidents.models import IncidentDetail
from orchestrator.playbooks.loader import load_playbooks
from orchestrator.principals.models import Permission, Principal
from orchestrator.settings import Settings
from orchestrator.timeutil import as_utc

CAPABILITY_SETTING = {
    "keys": "keys_provider",
    "models": "models_provider",
    "datasets": "datasets_provider",
    "retraining": "retraining_provider",
    "agents": "agents_provider",
}
STATUS_OF_EVENT = {
    "StepRequested": StepStatus.awaiting_approval,
    "StepApproved": StepStatus.approved,
    "StepRejected": StepStatus.rejected,
    "StepStarted": StepStatus.running,
    "StepSucceeded": StepStatus.succeeded,
    "StepFailed": StepStatus.failed,
    "StepSkipped": StepStatus.skipped,
    "StepCompensated": StepStatus.compensated,
}


@dataclass
class PhaseRow:
    name: str
    state: str  # done, current, upcoming
    started_at: datetime | None
    completed_at: datetime | None
    seconds: float | None


@dataclass
class StepRow:
    step_id: str
    phase: str
    action: str
    provider: str
    status: str
    attempts: int = 0
    summary: str = ""
    evidence: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class PendingRow:
    pending: PendingDecision
    may_decide: bool
    choices: list[str]


def provider_of(action: str, settings: Settings) -> str:
    """The configured provider that performs `action` (evidence is Firebreak's own store)."""
    capability = action.partition(".")[0]
    setting = CAPABILITY_SETTING.get(capability)
    if setting is None:
        return "firebreak" if capability == "evidence" else "—"
    return str(getattr(settings, setting))


def phase_rows(detail: IncidentDetail, now: datetime) -> list[PhaseRow]:
    rows = []
    for name in PhaseName:
        timing = detail.phases.get(name.value)
        started = as_utc(timing.started_at) if timing else None
        completed = as_utc(timing.completed_at) if timing else None
        if completed is not None:
            state = "done"
        elif started is not None:
            state = "current" if detail.closed_at is None else "stopped"
        else:
            state = "upcoming"
        end = completed or (now if state == "current" else as_utc(detail.closed_at))
        seconds = (end - started).total_seconds() if started and end else None
        rows.append(PhaseRow(name.value, state, started, completed, seconds))
    return rows


def steps_from_live(state: IncidentState, settings: Settings) -> list[StepRow]:
    return [_live_row(step, settings) for step in state.steps]


def _live_row(step: StepState, settings: Settings) -> StepRow:
    result = step.result
    return StepRow(
        step_id=step.step_id,
        phase=step.phase.value,
        action=step.action,
        provider=provider_of(step.action, settings),
        status=step.status.value,
        attempts=step.attempts,
        summary=result.summary if result else "",
        evidence=list(result.evidence) if result else [],
        error=step.error,
    )


def steps_from_stream(events: list[RecordedEvent], settings: Settings) -> list[StepRow]:
    """Each step's last known state, in the order the steps first appeared."""
    rows: dict[str, StepRow] = {}
    for event in events:
        status = STATUS_OF_EVENT.get(event.type)
        step_id = event.payload.get("step_id")
        if status is None or not isinstance(step_id, str):
            continue
        row = rows.get(step_id)
        if row is None:
            action = str(event.payload.get("action", ""))
            row = StepRow(
                step_id=step_id,
                phase=str(event.payload.get("phase", "")),
                action=action,
                provider=provider_of(action, settings),
                status=status.value,
            )
            rows[step_id] = row
        _apply(row, event, status)
    return list(rows.values())


def _apply(row: StepRow, event: RecordedEvent, status: StepStatus) -> None:
    payload = event.payload
    row.status = status.value
    if event.type == "StepStarted":
        row.attempts = int(payload.get("attempt", row.attempts + 1))
    if event.type in ("StepSucceeded", "StepCompensated") and isinstance(
        payload.get("result"), dict
    ):
        result = ActionResult.model_validate(payload["result"])
        row.summary = result.summary
        row.evidence = list(result.evidence)
    if event.type in ("StepFailed", "StepCompensated") and payload.get("error"):
        row.error = str(payload["error"])


def pending_rows(pending: list[PendingDecision], principal: Principal) -> list[PendingRow]:
    """Each waiting step and whether this principal may decide it (the workflow re-checks)."""
    deciding = principal.has(Permission.incidents_decide)
    rows = []
    for item in sorted(pending, key=lambda p: p.requested_at):
        mine = principal.name == item.requested_by or principal.name in item.approved_by
        rows.append(PendingRow(item, deciding and not mine, CHOICES.get(item.reason, [])))
    return rows


CHOICES = {
    "approval": ["approve", "reject"],
    "failure": ["retry", "skip", "abort"],
    "triage": ["assign", "close"],
}
"""The decisions each kind of wait takes, as the page offers them."""


def assignable_playbooks(pending: list[PendingDecision], settings: Settings) -> list[str]:
    """The playbook ids a responder may assign, when the incident waits in triage."""
    if not any(p.reason == "triage" for p in pending):
        return []
    try:
        return sorted(load_playbooks(settings.playbooks_dir))
    except InvalidInput:
        return []


def timeline_rows(events: list[RecordedEvent]) -> list[dict[str, Any]]:
    """The audit stream as the page lists it: when, what, who, and the payload's plain fields."""
    return [
        {
            "position": e.position,
            "occurred_at": e.occurred_at,
            "type": e.type,
            "actor": e.actor.id,
            "details": payload_fields(e.payload),
        }
        for e in events
    ]


def payload_fields(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """The payload fields people scan a log for, as text (escaped by the templates)."""
    shown = []
    keys = ("step_id", "phase", "action", "principal", "reason", "outcome", "error", "title")
    for key in (*keys, "merged_into", "merged_from"):
        value = payload.get(key)
        if value not in (None, ""):
            shown.append((key, str(value)))
    return shown


def merged_into(events: list[RecordedEvent]) -> str | None:
    """The survivor an incident was merged into, from its stream (also once it closed)."""
    return next(
        (
            str(e.payload["merged_into"])
            for e in events
            if e.type == EventType.incident_merged and e.payload.get("merged_into")
        ),
        None,
    )
