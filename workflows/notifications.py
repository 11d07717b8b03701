"""Telling people: the notification a step sends when it needs them, and its audit event.

The workflow says what it asks of people (`kind`: an approval, an escalation, a failed or a
stalled step); the `notify.send` activity turns that into the command that answers it and hands
the message to the configured notifier. A notifier outage never stalls a step: the attempt is
recorded with `delivered: false` and the step goes on waiting where the console and the CLI
still show it.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from temporalio import workflow
from temporalio.common import RetryPolicy

from orchestrator.domain import EventType, IncidentState
from workflows.contracts import NOTIFY_SEND, Notification
from workflows.execution import ActivityFailure
from workflows.outbox import Outbox
from workflows.patches import LOCAL_NOTIFY

NOTIFY_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=30))
NOTIFY_TIMEOUT = timedelta(seconds=30)


class Ask(StrEnum):
    """What a notification asks of people; `notify.send` renders the command that answers."""

    approval = "approval"
    escalation = "escalation"
    failure = "failure"
    stalled = "stalled"
    triage = "triage"
    reopened = "reopened"
    sla = "sla"


async def notify(
    incident: IncidentState,
    outbox: Outbox,
    kind: Ask,
    step_id: str,
    title: str,
    *,
    attempt: int = 0,
    target: str | None = None,
    local: bool | None = None,
) -> None:
    """Send `title` about `step_id` to the responders (or to the escalation `target`).

    `attempt` tells apart repeated notifications about one step (its action's attempts).
    `local` is for code paths newer than patch `local-notify`, which need not ask it."""
    message = Notification(
        incident_id=incident.incident_id,
        title=title,
        body=(
            f"{incident.type} incident in {incident.environment.value}: {incident.title}\n"
            f"step {step_id}"
        ),
        severity=incident.severity.value,
        environment=incident.environment.value,
        step_id=step_id,
        kind=kind.value,
        recipient=target,
    )
    delivered = True
    try:
        if local if local is not None else workflow.patched(LOCAL_NOTIFY):
            await workflow.execute_local_activity(
                NOTIFY_SEND,
                message,
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
            )
        else:
            await workflow.execute_activity(
                NOTIFY_SEND,
                message,
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
            )
    except ActivityFailure:
        delivered = False
    outbox.emit(
        EventType.notification_sent,
        {
            "step_id": step_id,
            "kind": kind.value,
            "attempt": attempt,
            "target": target,
            "delivered": delivered,
        },
    )
