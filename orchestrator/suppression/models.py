"""Suppression windows: their tables (migration `0006` creates them) and the shapes the API
takes and returns.

A window holds the alerts that match every condition of its `match` (the conditions routes
use, `orchestrator.routing.models.Conditions`, judged by the same code) in its environments,
from `starts_at` until `expires_at` or until someone ends it. Every window expires: a
maintenance that outlives `MAX_LIFETIME` gets a new window, so a forgotten one cannot hide
alerts for months.

`suppression_state` is one row whose `version` goes up with every window created or ended, in
the same transaction: each API replica reads that one row (not the windows) to know whether its
cached windows are still the current ones (`cache.py`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
)

from orchestrator.domain import Environment
from orchestrator.errors import InvalidInput
from orchestrator.routing.models import Conditions
from orchestrator.timeutil import as_utc

MAX_LIFETIME = timedelta(days=30)
"""The longest a window may last from its creation: a month covers any planned maintenance."""
START_SKEW = timedelta(minutes=5)
"""A start this far in the past is taken as the client's clock running behind, not refused."""
MAX_CONDITIONS = 20
MAX_VALUE_CHARS = 512
"""A condition's value or expression at most this long: windows are judged on every alert."""

metadata = sa.MetaData()
windows = sa.Table(
    "suppression_windows",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("environments", sa.JSON, nullable=False),
    sa.Column("match", sa.JSON, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("ended_by", sa.String(200)),
    sa.Column("end_reason", sa.Text),
)
state = sa.Table(
    "suppression_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    """`2h`, `90m`, `1d12h`, `45s`: days, hours, minutes and seconds, in that order."""
    found = _DURATION.match(text.strip().lower())
    if not text.strip() or found is None:
        raise ValueError(f"{text[:40]!r} is not a duration such as 30m, 2h or 1d12h")
    days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("a reason is required: say why these alerts may be held")
    return value.strip()


class WindowRequest(BaseModel):
    """`POST /v1/suppressions`: what to hold, where, until when and why."""

    model_config = ConfigDict(extra="forbid")

    match: Annotated[Conditions, Field(min_length=1, max_length=MAX_CONDITIONS)] = Field(
        description="Field -> condition, as in a route's `match`: a value (equals), "
        "`{regex: ...}` (the whole value matches) or `{present: true|false}`. Every one must "
        "hold. At least one."
    )
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    environments: list[Environment] = Field(
        default_factory=list,
        description="Tiers whose alerts it holds (by the environment routing gave them); "
        "empty: every tier the caller is scoped to.",
    )
    starts_at: AwareDatetime | None = Field(None, description="Default: now.")
    expires_at: AwareDatetime | None = Field(
        None, description="When it stops holding alerts; this or `duration` is required."
    )
    duration: str | None = Field(
        None, max_length=32, description="From the start, e.g. `2h`, `90m`, `1d12h`."
    )

    @field_validator("reason")
    @classmethod
    def _has_reason(cls, value: str) -> str:
        return _not_blank(value)

    @field_validator("match")
    @classmethod
    def _short_values(cls, match: Conditions) -> Conditions:
        for name, condition in match.items():
            value = condition.equals or condition.regex or ""
            if len(value) > MAX_VALUE_CHARS:
                raise ValueError(f"{name}: at most {MAX_VALUE_CHARS} characters")
        return match

    @field_validator("duration")
    @classmethod
    def _valid_duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) <= timedelta(0):
            raise ValueError("a duration must be longer than zero")
        return value

    def span(self, now: datetime) -> tuple[datetime, datetime]:
        """(start, expiry) in UTC for a window created at `now`; exactly one of `expires_at`
        and `duration` must be given (checked here, so the 422 names `expires_at`)."""
        if (self.expires_at is None) == (self.duration is None):
            raise InvalidInput(
                "give exactly one of expires_at or duration: no window lasts forever",
                "expires_at",
            )
        start = as_utc(self.starts_at) if self.starts_at is not None else now
        if self.duration is not None:
            return start, start + parse_duration(self.duration)
        assert self.expires_at is not None
        return start, as_utc(self.expires_at)


class EndRequest(BaseModel):
    """`POST /v1/suppressions/{id}/end`: why it ends early (recorded)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000)


class WindowState(StrEnum):
    scheduled = "scheduled"
    active = "active"
    expired = "expired"
    ended = "ended"


class Window(BaseModel):
    """A suppression window as stored and as the API shows it."""

    model_config = ConfigDict(frozen=True)

    id: str
    match: Conditions
    environments: list[Environment]
    reason: str
    created_by: str
    created_at: datetime
    starts_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    ended_by: str | None = None
    end_reason: str | None = None

    @field_validator("created_at", "starts_at", "expires_at", "ended_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)

    @field_serializer("match")
    def _written(self, match: Conditions) -> dict[str, dict[str, Any]]:
        """Each condition as written: `{"equals": "api"}`, not three keys, two of them null."""
        return {name: m.model_dump(exclude_none=True) for name, m in match.items()}

    def state_at(self, now: datetime) -> WindowState:
        if self.ended_at is not None:
            return WindowState.ended
        if now >= self.expires_at:
            return WindowState.expired
        return WindowState.scheduled if now < self.starts_at else WindowState.active

    def in_force(self, now: datetime) -> bool:
        """Whether it holds matching alerts at `now`."""
        return self.ended_at is None and self.starts_at <= now < self.expires_at

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> Window:
        return cls.model_validate(row._asdict())


class WindowView(Window):
    """A window with its state when it was read."""

    state: WindowState


class WindowList(BaseModel):
    items: list[WindowView]
