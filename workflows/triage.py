"""Triage: an incident whose alert found no playbook waits for a person instead of closing.

No route, a type no playbook handles, or a parameter the alert does not carry: the incident
opens all the same, records why (`IncidentTriaged`), tells the responders, and waits. Alerts
with its correlation key keep attaching to it meanwhile, so a storm of alerts nobody planned for
is still one incident. A responder either assigns a playbook (`assign`, optionally naming the
resources the sender did not: the playbook then runs its phases in this incident) or closes it
with a reason (`close`). An assignment that cannot resolve is recorded with its reason and the
incident goes on waiting. Deciding follows the rules of every other decision: role, environment
scope, and the principal that raised the alert cannot assign its playbook.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from orchestrator.domain import (
    TRIAGE_STEP,
    Alert,
    Decision,
    DecisionKind,
    DecisionOutcome,
    EventType,
    IncidentState,
    Playbook,
    StepStatus,
    Triage,
)
from workflows.contracts import ASSIGN_PLAYBOOK, AssignInput, ResolvedPlaybook
from workflows.intake import AlertIntake
from workflows.notifications import Ask, notify
from workflows.outbox import Outbox


class TriageDesk:
    """The incident's triage: entering it, taking a responder's decision from the `decide`
    update, and waiting until that decision settles it."""

    def __init__(
        self, incident: IncidentState, alert: Alert, outbox: Outbox, intake: AlertIntake
    ) -> None:
        self._incident = incident
        self._alert = alert
        self._outbox = outbox
        self._intake = intake
        self._decision: Decision | None = None

    async def enter(self, reason: str) -> None:
        enter(self._incident, reason, self._alert.source, self._outbox)
        await self._notify(f"Triage needed: {reason}")

    def take(self, decision: Decision) -> DecisionOutcome:
        """Hand a validated decision to `settle`, which resolves an assigned playbook (an
        activity, which an update handler that answers at once cannot await)."""
        triage = self._incident.triage
        assert triage is not None
        self._decision = decision
        assigning = decision.kind is DecisionKind.assign
        if assigning:
            triage.assigning = decision.playbook
        return DecisionOutcome(
            decision_id=decision.decision_id,
            step_id=TRIAGE_STEP,
            kind=decision.kind,
            step_status=StepStatus.approved if assigning else StepStatus.rejected,
        )

    async def settle(self) -> Playbook | Decision:
        """Wait until a responder assigns a playbook that resolves (returned, to run) or closes
        the incident (the `close` decision returned, for the workflow to close with)."""
        triage = self._incident.triage
        assert triage is not None
        while True:
            await self._intake.wait(lambda: self._decision is not None, None)
            decision, self._decision = self._decision, None
            assert decision is not None
            if decision.kind is DecisionKind.close:
                triage.done = True
                return decision
            assert decision.playbook is not None
            resolved = await workflow.execute_local_activity(
                ASSIGN_PLAYBOOK,
                AssignInput(
                    alert=self._alert, playbook=decision.playbook, resources=decision.resources
                ),
                result_type=ResolvedPlaybook,
                start_to_close_timeout=timedelta(seconds=30),
            )
            playbook: Playbook | None = resolved.playbook
            if playbook is None:
                error = resolved.error or f"playbook {decision.playbook} does not resolve"
                assign_failed(triage, decision, error, self._outbox)
                await self._notify(f"Triage: {error}", attempt=triage.failed_assignments)
                continue
            assigned(self._incident, triage, decision, playbook, self._outbox)
            return playbook

    async def _notify(self, title: str, *, attempt: int = 0) -> None:
        # Triage is newer than patch local-notify, and asking a patch right after the playbook's
        # local activity can replay wrongly (see `IncidentWorkflow._open`): always local.
        await notify(
            self._incident,
            self._outbox,
            Ask.triage,
            TRIAGE_STEP,
            title,
            attempt=attempt,
            local=True,
        )


def enter(incident: IncidentState, reason: str, requested_by: str, outbox: Outbox) -> None:
    incident.triage = Triage(reason=reason, requested_by=requested_by, requested_at=outbox.now())
    outbox.emit(
        EventType.incident_triaged,
        {"step_id": TRIAGE_STEP, "reason": reason, "requested_by": requested_by},
    )


def _decided(decision: Decision) -> dict[str, object]:
    return {
        "step_id": TRIAGE_STEP,
        "decision_id": decision.decision_id,
        "principal": decision.principal,
        "playbook": decision.playbook,
        "reason": decision.reason,
    }


def assigned(
    incident: IncidentState, triage: Triage, decision: Decision, playbook: Playbook, outbox: Outbox
) -> None:
    triage.done, triage.assigning = True, None
    incident.playbook, incident.playbook_hash = playbook.id, playbook.content_hash
    payload = {**_decided(decision), "playbook_hash": playbook.content_hash}
    outbox.emit(EventType.playbook_assigned, payload, decision.actor)


def assign_failed(triage: Triage, decision: Decision, error: str, outbox: Outbox) -> None:
    """The assigned playbook does not resolve for this incident: it stays in triage, and the
    reason it waits becomes this error."""
    triage.assigning, triage.reason = None, error
    triage.failed_assignments += 1
    outbox.emit(
        EventType.playbook_assign_failed, {**_decided(decision), "error": error}, decision.actor
    )


def closing(decision: Decision) -> dict[str, object]:
    """The `IncidentClosed` payload fields of a responder's `close` in triage."""
    return {
        "decision_id": decision.decision_id,
        "principal": decision.principal,
        "reason": decision.reason,
    }
