"""A ledger event with defaults for every field a test does not care about."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from orchestrator.domain import Actor, NewEvent

RESPONDER = Actor(id="alice", role="responder")


def new_event(type: str = "StepStarted", actor: Actor = RESPONDER, **fields: Any) -> NewEvent:
    return NewEvent(
        id=fields.pop("id", str(uuid.uuid4())),
        type=type,
        actor=actor,
        occurred_at=fields.pop("occurred_at", datetime.now(UTC)),
        **fields,
    )
