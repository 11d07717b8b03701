"""The `audit.append` local activity: the workflow's only way into the event store.

Run as a local activity so every transition costs no extra server round trip. Appends are
idempotent by event id: the store skips an id it holds with the same content. A local activity
can also run in a workflow task that is then lost (worker killed, task timed out); its
replacement regenerates the same ids (see `workflows/outbox.py`) but may stamp them a moment
later, which the store reports as a Conflict. The event is then already recorded, so the
append keeps the stored one and writes the rest. The store is synchronous; appends run in a
thread so the worker's event loop keeps serving other incidents.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from orchestrator.audit import EventStore
from orchestrator.errors import Conflict, FirebreakError, Unavailable
from workflows.contracts import AUDIT_APPEND, AppendInput


class AuditActivities:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    @activity.defn(name=AUDIT_APPEND)
    async def append(self, inp: AppendInput) -> None:
        """Append one batch to the incident's stream."""
        try:
            await asyncio.to_thread(self._append, inp)
        except Unavailable as exc:
            raise ApplicationError(exc.detail, type="Unavailable") from None
        except FirebreakError as exc:
            kind = type(exc).__name__
            raise ApplicationError(exc.detail, type=kind, non_retryable=True) from None

    def _append(self, inp: AppendInput) -> None:
        try:
            self.store.append(inp.stream_id, inp.events)
        except Conflict:
            stored = {e.id for e in self.store.read_stream(inp.stream_id)}
            self.store.append(inp.stream_id, [e for e in inp.events if e.id not in stored])
