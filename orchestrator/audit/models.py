"""The event store's query filters and result shapes, and the auditor endpoints' page.

The API serialises the store's results as they are.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.domain import RecordedEvent


class ExportFormat(StrEnum):
    """How an export writes each event, one JSON object per line.

    `jsonl`: the ledger event itself (`RecordedEvent`, with its hashes), as the export always
    wrote it. `ocsf`: its OCSF record (`orchestrator.ocsf.to_ocsf`, docs/ocsf.md) for a SIEM.
    """

    jsonl = "jsonl"
    ocsf = "ocsf"


class AuditFilter(BaseModel):
    """The filters of `EventStore.query` that `/v1/audit/events`, `/v1/audit/export`, the
    console's audit page and `EventStore.export` share."""

    model_config = ConfigDict(extra="forbid")

    stream: str | None = None
    types: list[str] | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class QueryPage(BaseModel):
    """One page of a query; pass `next_cursor` as `after_position` for the next (None = last)."""

    model_config = ConfigDict(frozen=True)

    events: list[RecordedEvent]
    next_cursor: int | None


class AuditPage(BaseModel):
    """One page of `GET /v1/audit/events`."""

    items: list[RecordedEvent]
    next_cursor: int | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


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
    kept_checked: int = Field(
        0, description="Checkpoints kept outside the database (`verify --checkpoint`) checked."
    )


class Checkpoint(BaseModel):
    """A signed statement that the chain had `head_hash` at `position` at `created_at`."""

    model_config = ConfigDict(frozen=True)

    position: int
    head_hash: str
    created_at: datetime
    key_fingerprint: str
    signature: str
