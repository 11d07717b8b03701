"""Audit events the workflow has produced but not yet appended.

Ids come from `workflow.uuid4()` and times from `workflow.now()`, so a replay rebuilds exactly
the same events: appending them again is a no-op in the event store, and a worker that crashed
before appending regenerates them instead of losing them.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from orchestrator.domain import Actor, EventType, NewEvent

SYSTEM = Actor.system()
SENSITIVE = ("result",)
"""Payload keys the store encrypts at rest: action results may carry model outputs."""


class Outbox:
    def __init__(self) -> None:
        self._events: list[NewEvent] = []

    def emit(self, type_: EventType, payload: dict[str, Any], actor: Actor = SYSTEM) -> None:
        self._events.append(
            NewEvent(
                id=str(workflow.uuid4()),
                type=type_.value,
                actor=actor,
                occurred_at=workflow.now(),
                payload=payload,
                sensitive=tuple(k for k in SENSITIVE if k in payload),
            )
        )

    def take(self) -> list[NewEvent]:
        events, self._events = self._events, []
        return events

    def __bool__(self) -> bool:
        return bool(self._events)
