"""Notification activity: hands a message for responders to the configured notifier."""

from __future__ import annotations

from temporalio import activity

from activities.errors import ActivityError, as_application_error
from activities.providers.protocols import Notification, Notifier


class NotifyActivities:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    @activity.defn(name="notify.send")
    async def send(self, message: Notification) -> None:
        try:
            await self.notifier.notify(message)
        except ActivityError as exc:
            raise as_application_error(exc) from None
