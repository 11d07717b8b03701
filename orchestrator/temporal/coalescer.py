"""Group commit of alerts into their incident workflows.

Every firing alert must be in its workflow's history before the API answers 202, and each
signal costs a server round trip, a workflow task and history writes. Under a storm most alerts
share a correlation key, so while one signal-with-start for a workflow id is in flight, further
alerts for that id wait and then travel together in the next one. An idle system pays nothing
(the first alert goes at once); a burst pays one round trip per batch instead of per alert.
"""

from __future__ import annotations

from temporalio.client import Client

from orchestrator.domain import Alert, AlertStatus, SubmitResult
from orchestrator.groupcommit import GroupCommit
from orchestrator.temporal.incidents import submit_alert, submit_firing

# Temporal refuses payloads over 2 MB; alerts may each be up to FIREBREAK_MAX_ALERT_BYTES.
MAX_SIGNAL_BYTES = 1024 * 1024
SIGNAL_LINGER_SECONDS = 0.1
"""The least time between the starts of two signals to one incident: alerts that arrive in
between share the next. The first alert of an incident, or of a quiet one, never waits."""


class AlertCoalescer:
    """Hands alerts to their workflows, batching those that arrive while a send is in flight."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue
        self._signals: GroupCommit[str, Alert, SubmitResult] = GroupCommit(
            self._send, weigh=_weight, max_weight=MAX_SIGNAL_BYTES, linger=SIGNAL_LINGER_SECONDS
        )

    async def submit(self, alert: Alert) -> SubmitResult:
        """Return once the alert is in its workflow's history (or raise why it is not)."""
        if alert.status is AlertStatus.resolved:
            return await submit_alert(self._client, alert, task_queue=self._task_queue)
        return await self._signals.submit(alert.workflow_id, alert)

    async def _send(self, _workflow_id: str, alerts: list[Alert]) -> list[SubmitResult]:
        """One signal-with-start for the batch; only its first alert can have opened the
        incident."""
        result = await submit_firing(self._client, alerts, task_queue=self._task_queue)
        later = result.model_copy(update={"opened": False})
        return [result, *([later] * (len(alerts) - 1))]


def _weight(alert: Alert) -> int:
    return len(alert.model_dump_json())
