"""Merging: a responder finds two incidents are one, and merges the later (B) into the other
(A, the survivor).

The API sends one `MergeRequest` to both workflows as updates: first `merge` to B, which
records `IncidentMerged` (naming A), hands back the alerts it held, and closes as `merged`
at its next wait (never in the middle of an action, whose effect must be recorded); then
`absorb` to A, which records `IncidentMerged` (naming B) and counts B's alerts as its own.
Each validator enforces who may merge (the deciders' role and the environment scope; the
self-approval rules of steps do not apply) and refuses a closed incident or a merge of an
incident into itself, so a refused merge leaves no trace in either history.

Both handlers only change state and queue events, so a history without a merge replays the
same commands: no patch is needed.
"""

from __future__ import annotations

from temporalio import workflow

from orchestrator.domain import (
    EventType,
    IncidentState,
    MergedIncident,
    MergeOutcome,
    MergeRequest,
)
from workflows.approvals import check_scope, conflict
from workflows.intake import AlertIntake
from workflows.outbox import Outbox

ALERT_IDS_MOVED = 1000
"""The latest alert ids B hands to A (all are counted); A treats them as already attached."""


class MergedAway(Exception):
    """Raised out of a wait of a merged-away incident: the run closes it as `merged`."""


def check_merge(request: MergeRequest, state: IncidentState, *, survivor: bool) -> None:
    """Raise unless `request` may merge this incident away (or into it, for the survivor)."""
    check_scope(request.role, request.environments, state.environment, "merge incidents")
    me = state.incident_id
    if request.incident_id == request.into:
        raise conflict("an incident cannot be merged into itself")
    if (request.into if survivor else request.incident_id) != me:
        raise conflict(f"this merge is not about incident {me}")
    if survivor and any(m.incident_id == request.incident_id for m in state.merged_from):
        return  # a repeated merge: answered again, applied once
    if not survivor and state.merged_into == request.into:
        return
    if state.closed_at is not None:
        side = "merge into" if survivor else "merge"
        raise conflict(f"incident {me} is closed ({state.outcome}); cannot {side} it")
    if state.merged_into is not None:
        raise conflict(f"incident {me} is already merged into {state.merged_into}")


class MergeDesk:
    """Both sides of merging for one incident's workflow."""

    def __init__(self, state: IncidentState, outbox: Outbox, intake: AlertIntake) -> None:
        self._state = state
        self._outbox = outbox
        self._intake = intake

    @property
    def merged_away(self) -> bool:
        return self._state.merged_into is not None

    def merge_away(self, request: MergeRequest) -> MergeOutcome:
        """B's side: remember the survivor, record it, hand back the alerts held."""
        s = self._state
        self._intake.attach()
        alert_ids = self._intake.firing_alert_ids()[-ALERT_IDS_MOVED:]
        if s.merged_into is None:
            s.merged_into = request.into
            self._intake.stop_with = MergedAway()
            self._outbox.emit(
                EventType.incident_merged,
                {
                    "merged_into": request.into,
                    "reason": request.reason,
                    "alert_count": s.alert_count,
                    "merge_id": request.merge_id,
                },
                request.actor,
            )
        return MergeOutcome(
            merge_id=request.merge_id,
            incident_id=s.incident_id,
            into=request.into,
            alert_count=s.alert_count,
            alert_ids=alert_ids,
        )

    def absorb(self, request: MergeRequest) -> MergeOutcome:
        """A's side: B's alerts count as A's, and B is listed as merged into it."""
        s = self._state
        if not any(m.incident_id == request.incident_id for m in s.merged_from):
            s.merged_from.append(
                MergedIncident(
                    incident_id=request.incident_id,
                    alert_count=request.alert_count,
                    reason=request.reason,
                    merged_by=request.principal,
                    merged_at=workflow.now(),
                )
            )
            self._intake.mark_seen(request.alert_ids)
            s.alert_count += request.alert_count
            self._outbox.emit(
                EventType.incident_merged,
                {
                    "merged_from": request.incident_id,
                    "reason": request.reason,
                    "alert_count": request.alert_count,
                    "alert_ids": request.alert_ids,
                    "merge_id": request.merge_id,
                },
                request.actor,
            )
        return MergeOutcome(
            merge_id=request.merge_id,
            incident_id=s.incident_id,
            into=s.incident_id,
            alert_count=s.alert_count,
        )
