"""The audit page's inputs and its cached chain check.

Search fields arrive as plain form strings (a browser's `datetime-local` has no zone; the page
says UTC); a bad one becomes a message on the page, not an error. Verifying walks the whole
chain, so one result is reused while the log's head is unchanged, for at most a minute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

import anyio

from orchestrator.audit import AuditFilter, Checkpoint, EventStore, VerificationReport
from orchestrator.errors import InvalidInput
from orchestrator.timeutil import as_utc

VERIFY_TTL_SECONDS = 60.0
FIELDS = ("incident", "type", "actor", "since", "until")


@dataclass(frozen=True)
class Search:
    """The form as typed (to show it again) and the filter it means."""

    values: dict[str, str]
    where: AuditFilter

    def query(self, **extra: str | int) -> str:
        """The query string of this search, for paging and export links."""
        kept = {k: v for k, v in self.values.items() if v}
        return urlencode({**kept, **{k: str(v) for k, v in extra.items()}})


def _time(name: str, text: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}: not a date and time (YYYY-MM-DDTHH:MM, UTC)", name) from None
    return as_utc(value)


def parse_search(params: dict[str, str]) -> Search:
    values = {name: params.get(name, "").strip()[:200] for name in FIELDS}
    where = AuditFilter(
        stream=values["incident"] or None,
        types=[values["type"]] if values["type"] else None,
        actor=values["actor"] or None,
        since=_time("since", values["since"]),
        until=_time("until", values["until"]),
    )
    return Search(values, where)


def parse_cursor(text: str | None) -> int:
    if not text:
        return 0
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("cursor: not a cursor this page produced", "cursor")
    return int(text)


@dataclass
class VerificationCache:
    """The last verification per head of the log and latest checkpoint, so paging through
    the log does not re-walk the whole chain on every page."""

    key: tuple[object, ...] | None = None
    at: float = 0.0
    report: VerificationReport | None = None
    lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def get(self, store: EventStore, latest: Checkpoint | None) -> VerificationReport:
        """Verify again when the head or the latest checkpoint moved, or a minute passed."""
        async with self.lock:
            head = await anyio.to_thread.run_sync(store.head)
            key = (*head, latest.position if latest else None, latest.signature if latest else "")
            fresh = time.monotonic() - self.at < VERIFY_TTL_SECONDS
            if self.report is None or key != self.key or not fresh:
                self.report = await anyio.to_thread.run_sync(store.verify)
                self.key, self.at = key, time.monotonic()
            return self.report
