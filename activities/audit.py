"""The `audit.append` local activity: the workflow's only way into the event store.

Run as a local activity so every transition costs no extra server round trip. Appends are
idempotent by event id (the store skips an id it already holds with the same content), so a
retried or replayed append never duplicates an event. The store is synchronous; the append runs
in a thread so the worker's event loop keeps serving other incidents.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from orchestrator.audit import EventStore
from orchestrator.errors import FirebreakError, Unavailable
from workflows.contracts import AUDIT_APPEND, AppendInput


class AuditActivities:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    @activity.defn(name=AUDIT_APPEND)
    async def append(self, inp: AppendInput) -> int:
        """Append one batch to the incident's stream; returns the last global position."""
        try:
            positions = await asyncio.to_thread(self.store.append, inp.stream_id, inp.events)
        except Unavailable as exc:
            raise ApplicationError(exc.detail, type="Unavailable") from None
        except FirebreakError as exc:
            raise ApplicationError(
                exc.detail, type=type(exc).__name__, non_retryable=True
            ) from None
        return positions[-1] if positions else 0
