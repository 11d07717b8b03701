"""Audit events the workflow has produced but not yet appended.

An event's id is a UUID derived from the incident id, the event type and the event's subject
(alert, phase, step, action, decision, notification kind, attempt: the facts that make it
unique within the incident), and its time is `workflow.now()`. A replay therefore rebuilds
the same ids, and so does a retried workflow task that saw more signals than the attempt it
replaces: a sequence-based id (`workflow.uuid4()`) would shift there and give a different
event an id already appended by the lost attempt. The append activity treats an id already
stored as already recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import workflow

from orchestrator.domain import Actor, EventType, NewEvent

SYSTEM = Actor.system()
SENSITIVE = ("result",)
"""Payload keys the store encrypts at rest: action results may carry model outputs."""
SUBJECT_KEYS = (
    "alert_id",
    "phase",
    "step_id",
    "action",
    "decision_id",
    "kind",
    "attempt",
    "leg",
)
NAMESPACE = uuid.UUID("5b0e6f1c-2f7a-4c61-9d1e-6a0f3f1e9b42")


def event_id(incident_id: str, type_: EventType, payload: dict[str, Any], round_: int = 0) -> str:
    """`round_` counts the incident's reopenings: the same step or transition in a later round
    is a new event (round 0 keeps the ids incidents had before reopening existed)."""
    subject = "/".join(str(payload[k]) for k in SUBJECT_KEYS if payload.get(k) is not None)
    if round_:
        subject = f"{subject}#{round_}"
    return str(uuid.uuid5(NAMESPACE, f"{incident_id}|{type_.value}|{subject}"))


class Outbox:
    """The incident's pending events, stamped by one clock (`workflow.now` in a workflow).

    Step transitions take their times from the same clock (`now`), so a step's recorded times
    and its events' times agree, and the transitions can be tested without a Temporal server.
    """

    def __init__(self, incident_id: str, clock: Callable[[], datetime] = workflow.now) -> None:
        self._incident_id = incident_id
        self._events: list[NewEvent] = []
        self.now = clock
        self.round = 0
        """How often the incident was reopened: part of every later event's id."""

    def emit(self, type_: EventType, payload: dict[str, Any], actor: Actor = SYSTEM) -> None:
        self._events.append(
            NewEvent(
                id=event_id(self._incident_id, type_, payload, self.round),
                type=type_.value,
                actor=actor,
                occurred_at=self.now(),
                payload=payload,
                sensitive=tuple(k for k in SENSITIVE if k in payload),
            )
        )

    def take(self) -> list[NewEvent]:
        events, self._events = self._events, []
        return events

    def only(self, types: frozenset[str]) -> bool:
        """Whether every pending event is of one of `types` (true when none is pending)."""
        return all(e.type in types for e in self._events)

    def __len__(self) -> int:
        return len(self._events)
