"""Query parameters and response shapes of the auditor endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from orchestrator.domain import RecordedEvent


class AuditFilter(BaseModel):
    """The filters `/v1/audit/events` and `/v1/audit/export` share."""

    stream: str | None = None
    types: list[str] | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditPage(BaseModel):
    items: list[RecordedEvent]
    next_cursor: int | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


class Timeline(BaseModel):
    """An incident's audit stream, oldest first."""

    incident_id: str
    items: list[RecordedEvent]
