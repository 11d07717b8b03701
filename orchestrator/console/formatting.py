"""Small text formatters the templates share: durations and timestamps, always in UTC."""

from __future__ import annotations

from datetime import datetime

from orchestrator.timeutil import as_utc


def duration(seconds: float | None) -> str:
    """`0.4s`, `42s`, `3m 05s`, `2h 07m`, `3d 4h`; an em dash when unknown."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{max(0.0, seconds):.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def timestamp(value: datetime | None) -> str:
    if value is None:
        return "—"
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")
