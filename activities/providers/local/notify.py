"""The default notifier: responders' messages go to the log.

Alert-derived text is attacker-controlled, so it is logged with `%r` (newlines and control
characters escaped) and can never forge extra log lines.
"""

from __future__ import annotations

import logging

from workflows.contracts import Notification

log = logging.getLogger("firebreak.notify")


class LogNotifier:
    async def notify(self, message: Notification) -> None:
        log.warning(
            "incident %s [%s/%s] step=%s to=%s: %r %r hint=%r",
            message.incident_id,
            message.severity,
            message.environment,
            message.step_id,
            message.recipient or "responders",
            message.title,
            message.body,
            message.action_hint,
        )
