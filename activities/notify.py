"""The `notify.send` activity: a message for responders, with the command that answers it; and
the `notify.responders` action, a message a playbook step sends (say, that a retrained model
failed validation and the restored one keeps serving).

The workflow says what a message asks of people (`Notification.kind`); the answer is a CLI
command, which belongs here at the edge rather than in workflow history, so changing the CLI
never changes how a running incident replays.
"""

from __future__ import annotations

from temporalio import activity

from activities.base import action, optional
from activities.errors import ActivityError, as_application_error
from activities.providers.protocols import Notifier
from orchestrator.domain import ActionInput, ActionResult
from workflows.contracts import NOTIFY_SEND, Notification

ANSWERS = {
    "approval": "firebreak decide {incident} {step} approve|reject",
    "escalation": "firebreak decide {incident} {step} approve|reject",
    "failure": "firebreak decide {incident} {step} retry|skip|abort",
    "stalled": "firebreak incidents show {incident}",
    "triage": "firebreak decide {incident} triage assign --playbook ID | close --reason TEXT",
    "reopened": "firebreak incidents resolve {incident} --reason TEXT",
    "sla": "firebreak incidents ack {incident} | resolve {incident} --reason TEXT",
}
"""The command that answers each kind of notification."""


def with_answer(message: Notification) -> Notification:
    """`message` with its `action_hint` filled from its kind, unless it names one already."""
    answer = ANSWERS.get(message.kind or "")
    if message.action_hint is not None or answer is None:
        return message
    hint = answer.format(incident=message.incident_id, step=message.step_id)
    return message.model_copy(update={"action_hint": hint})


class NotifyActivities:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    @activity.defn(name=NOTIFY_SEND)
    async def send(self, message: Notification) -> None:
        try:
            await self.notifier.notify(with_answer(message))
        except ActivityError as exc:
            raise as_application_error(exc) from None

    @action("notify.responders")
    async def responders(self, input: ActionInput) -> ActionResult:
        """Tell the responders what the step's `title` and `body` say (step outputs filled
        in are data: notifiers escape them). No answer is asked for."""
        message = Notification(
            incident_id=input.incident_id,
            title=input.params["title"],
            body=optional(input, "body") or "",
            severity=optional(input, "severity") or "info",
            environment=input.environment.value,
            step_id=input.step_id,
            kind="report",
        )
        if not input.dry_run:
            await self.notifier.notify(message)
        return ActionResult(
            action=input.action,
            changed=False,
            summary=("dry run: would tell" if input.dry_run else "told")
            + f" the responders: {message.title}",
            outputs={"sent": str(not input.dry_run).lower()},
        )
