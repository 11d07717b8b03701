"""The incident's life: open -> contained -> resolved -> closed, each transition an event.

The playbook moves the incident forward on its own (containment done: `IncidentContained`;
recovery done: `IncidentResolved`); responders move it too, through the `decide` update with
step id `incident` and the same role and environment-scope rules as every decision:
`acknowledge` (once; it stops the SLA's first leg), `resolve` with a reason (the work is done
even though the playbook is not: steps still waiting are skipped, the one running finishes,
nothing else starts) and `close` (a resolved incident, before its quiet period ends).

A resolved incident closes once no alert arrived for the quiet period. A new firing alert
before that reopens it (`IncidentReopened`, and the responders are told): the playbook's
`on_reopen` says whether its phases run again (`rerun`) or the incident waits, open, for a
responder to resolve it again (`responder`). Each reopening starts a new round, part of every
later event's id (`workflows.outbox`), so a rerun step is a new event, not a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from orchestrator.domain import (
    LIFECYCLE_STEP,
    Actor,
    Decision,
    DecisionKind,
    DecisionOutcome,
    EventType,
    IncidentState,
    IncidentStatus,
    ReopenRule,
    StepStatus,
)
from workflows import transitions
from workflows.approvals import conflict
from workflows.outbox import Outbox

KINDS = frozenset({DecisionKind.acknowledge, DecisionKind.resolve, DecisionKind.close})
UNRESOLVED = (IncidentStatus.open, IncidentStatus.contained)
WAITING = (StepStatus.pending, StepStatus.awaiting_approval, StepStatus.awaiting_decision)


def check(decision: Decision, incident: IncidentState) -> None:
    """Raise unless `decision` (acknowledge, resolve, close) applies to the incident now."""
    kind = decision.kind
    if kind not in KINDS:
        raise conflict(
            f"{kind.value} is a step decision; the incident takes acknowledge, resolve or close"
        )
    if not incident.lifecycle:
        raise conflict("this incident predates acknowledge/resolve/close; it closes by itself")
    if kind is DecisionKind.acknowledge:
        if incident.acknowledged_at is not None:
            raise conflict(f"already acknowledged by {incident.acknowledged_by}")
        return
    if not decision.reason.strip():
        raise conflict(f"{kind.value} needs a reason")
    if kind is DecisionKind.resolve:
        if incident.triage is not None and not incident.triage.done:
            raise conflict("the incident waits in triage: assign a playbook, or close it there")
        if incident.status not in UNRESOLVED:
            raise conflict(f"the incident is {incident.status.value}, not open")
        return
    if incident.status is not IncidentStatus.resolved:
        raise conflict(f"the incident is {incident.status.value}: resolve it before closing it")


def _elapsed(incident: IncidentState, at: datetime) -> float:
    return (at - incident.opened_at).total_seconds()


def _decided(decision: Decision) -> dict[str, Any]:
    return {
        "decision_id": decision.decision_id,
        "principal": decision.principal,
        "reason": decision.reason,
    }


class Lifecycle:
    """The incident's status and its transitions, driven by the playbook and by responders."""

    def __init__(self, incident: IncidentState, outbox: Outbox, resolved_mark: int = 0) -> None:
        self._incident = incident
        self._outbox = outbox
        outbox.round = incident.reopened_count
        self._closing: Decision | None = None
        self.resolved_mark = resolved_mark
        """The alert count when the incident was last resolved: a higher one reopens it."""

    # --- responders (the `decide` update) ------------------------------------------------

    def take(self, decision: Decision) -> DecisionOutcome:
        """Apply a validated acknowledge, resolve or close."""
        s = self._incident
        if decision.kind is DecisionKind.acknowledge:
            s.acknowledged_at, s.acknowledged_by = self._outbox.now(), decision.principal
            payload = {
                **_decided(decision),
                "time_to_acknowledge_seconds": _elapsed(s, s.acknowledged_at),
            }
            self._outbox.emit(EventType.incident_acknowledged, payload, decision.actor)
        elif decision.kind is DecisionKind.resolve:
            for step in s.steps:
                if step.status in (StepStatus.awaiting_approval, StepStatus.awaiting_decision):
                    transitions.skip(step, self._outbox, f"resolved by {decision.principal}")
            self.resolve(decision.actor, decision.reason, _decided(decision))
        else:
            self._closing = decision
        closing = decision.kind is DecisionKind.close  # the workflow closes it at once
        return DecisionOutcome(
            decision_id=decision.decision_id,
            step_id=LIFECYCLE_STEP,
            kind=decision.kind,
            step_status=StepStatus.succeeded,
            incident_status=IncidentStatus.closed if closing else s.status,
        )

    # --- the playbook's progress ---------------------------------------------------------

    def contain(self) -> None:
        """The containment phase is done."""
        s = self._incident
        now = self._outbox.now()
        if s.contained_at is None:
            s.contained_at = now
        if s.status is IncidentStatus.open:
            s.status = IncidentStatus.contained
        payload = {"time_to_contain_seconds": _elapsed(s, s.contained_at)}
        self._outbox.emit(EventType.incident_contained, payload)

    def resolve(
        self,
        actor: Actor | None = None,
        reason: str = "recovery completed",
        decided: dict[str, Any] | None = None,
    ) -> None:
        """Resolved: by the playbook's recovery (no `actor`) or by a responder."""
        s = self._incident
        if s.status is IncidentStatus.resolved:
            return
        now = self._outbox.now()
        s.status, s.resolved_at = IncidentStatus.resolved, now
        s.resolved_by, s.resolution = (actor.id if actor else None), reason
        self.resolved_mark = s.alert_count
        payload: dict[str, Any] = {
            "by": "responder" if actor else "playbook",
            "reason": reason,
            "time_to_resolve_seconds": _elapsed(s, now),
            "round": s.reopened_count,
            **(decided or {}),
        }
        if actor is None:
            self._outbox.emit(EventType.incident_resolved, payload)
        else:
            self._outbox.emit(EventType.incident_resolved, payload, actor)

    def phases_done(self, rule: ReopenRule) -> None:
        """The playbook ran its last phase: resolved, unless it was reopened under `responder`
        (its phases did not run again; a responder resolves it)."""
        if self._incident.reopened_count and rule is ReopenRule.responder:
            return
        self.resolve()

    @property
    def resolved(self) -> bool:
        return self._incident.status is IncidentStatus.resolved

    def skip_rest(self) -> None:
        """A responder resolved the incident: the playbook's steps not yet run never start."""
        by = self._incident.resolved_by or "a responder"
        for step in self._incident.steps:
            if step.status in WAITING:
                transitions.skip(step, self._outbox, f"resolved by {by}")

    # --- after resolution ----------------------------------------------------------------

    def closing(self) -> Decision | None:
        """A responder's `close`, once given."""
        return self._closing

    def reopens(self) -> bool:
        """A firing alert arrived since the incident was resolved."""
        return self.resolved and self._incident.alert_count > self.resolved_mark

    def quiet_until(self, last_alert_at: datetime | None, quiet_seconds: int) -> datetime:
        """When a resolved incident closes by itself: the quiet period after its resolution or
        its last alert, whichever is later."""
        resolved_at = self._incident.resolved_at
        assert resolved_at is not None
        since = max(resolved_at, last_alert_at or resolved_at)
        return since + timedelta(seconds=quiet_seconds)

    def reopen(self, rule: ReopenRule) -> None:
        """A new alert for a resolved incident: it is open again, in a new round of events."""
        s = self._incident
        s.reopened_count += 1
        self._outbox.round = s.reopened_count
        s.status = IncidentStatus.open
        payload = {
            "alert_count": s.alert_count,
            "reopened_count": s.reopened_count,
            "on_reopen": rule.value,
        }
        self._outbox.emit(EventType.incident_reopened, payload)

    def waiting_for_resolution(self) -> Callable[[], bool]:
        """The condition a reopened incident under `responder` waits on."""
        return lambda: self.resolved
