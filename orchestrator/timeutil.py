"""Time values as Firebreak stores and compares them: aware, in UTC.

SQLite has no time zone type: it hands back naive datetimes for the UTC values it was given,
while PostgreSQL hands back aware ones. Every reader of a stored timestamp passes it through
`as_utc`, so both backends give the same value and naive and aware times never meet.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """The same instant as an aware UTC datetime; a naive one is taken to be UTC already."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
