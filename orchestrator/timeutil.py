"""Time values as Firebreak stores and compares them: aware, in UTC.

SQLite has no time zone type: it hands back naive datetimes for the UTC values it was given,
while PostgreSQL hands back aware ones. Every reader of a stored timestamp passes it through
`as_utc`, so both backends give the same value and naive and aware times never meet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import overload

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def epoch_millis(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, exactly (integer arithmetic, no float rounding): the
    timestamp form OCSF records and most SIEMs use."""
    return (as_utc(moment) - EPOCH) // timedelta(milliseconds=1)
