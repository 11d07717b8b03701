"""Group commit of alerts into their incident workflows.

Every firing alert must be in its workflow's history before the API answers 202, and each
signal costs a server round trip, a workflow task and history writes. Under a storm most alerts
share a correlation key, so while one signal-with-start for a workflow id is in flight, further
alerts for that id wait and then travel together in the next one. An idle system pays nothing
(the first alert goes at once); a burst pays one round trip per batch instead of per alert.
"""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from orchestrator.domain import Alert, AlertStatus, SubmitResult
from orchestrator.errors import Unavailable
from orchestrator.temporal.incidents import submit_alert, submit_firing

Waiting = list[tuple[Alert, "asyncio.Future[SubmitResult]"]]


class AlertCoalescer:
    """Hands alerts to their workflows, batching those that arrive while a send is in flight."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue
        self._waiting: dict[str, Waiting] = {}
        self._senders: set[asyncio.Task[None]] = set()

    async def submit(self, alert: Alert) -> SubmitResult:
        """Return once the alert is in its workflow's history (or raise why it is not)."""
        if alert.status is AlertStatus.resolved:
            return await submit_alert(self._client, alert, task_queue=self._task_queue)
        future: asyncio.Future[SubmitResult] = asyncio.get_running_loop().create_future()
        queue = self._waiting.get(alert.workflow_id)
        if queue is not None:
            queue.append((alert, future))
        else:
            self._waiting[alert.workflow_id] = [(alert, future)]
            sender = asyncio.create_task(self._send(alert.workflow_id))
            self._senders.add(sender)
            sender.add_done_callback(self._senders.discard)
        # A caller that goes away must not cancel the send its batch-mates wait on.
        return await asyncio.shield(future)

    async def _send(self, workflow_id: str) -> None:
        """Send what waits for `workflow_id`, then what queued meanwhile, until nothing is left."""
        batch: Waiting = []
        try:
            while batch := self._take(workflow_id):
                try:
                    result = await submit_firing(
                        self._client, [alert for alert, _ in batch], task_queue=self._task_queue
                    )
                except Exception as exc:  # each waiting request answers with the same failure
                    for _, future in batch:
                        _settle(future, exc)
                    continue
                for index, (_, future) in enumerate(batch):
                    _settle(
                        future,
                        result if index == 0 else result.model_copy(update={"opened": False}),
                    )
        finally:
            interrupted = Unavailable("handing the alert to its incident was interrupted; retry")
            for _, future in batch + self._waiting.pop(workflow_id, []):
                _settle(future, interrupted)

    def _take(self, workflow_id: str) -> Waiting:
        batch = self._waiting[workflow_id]
        self._waiting[workflow_id] = []
        return batch


def _settle(future: asyncio.Future[SubmitResult], outcome: SubmitResult | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
