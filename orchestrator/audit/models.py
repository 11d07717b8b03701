"""Result shapes of the event store's public surface (the API serialises them as they are)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from orchestrator.domain import RecordedEvent


class QueryPage(BaseModel):
    """One page of a query; pass `next_cursor` as `after_position` for the next (None = last)."""

    model_config = ConfigDict(frozen=True)

    events: list[RecordedEvent]
    next_cursor: int | None


class VerificationReport(BaseModel):
    """Outcome of walking the chain and the checkpoints; `problem` says what is wrong where."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    checked: int
    first_bad_position: int | None = None
    problem: str | None = None
    head_position: int
    head_hash: str
    checkpoints_checked: int = 0


class Checkpoint(BaseModel):
    """A signed statement that the chain had `head_hash` at `position` at `created_at`."""

    model_config = ConfigDict(frozen=True)

    position: int
    head_hash: str
    created_at: datetime
    key_fingerprint: str
    signature: str
