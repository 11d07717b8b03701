"""Which incident a digest belongs to, its verified content, and the audit of every read.

The ledger is the index: an item is known by the `EvidenceCollected` event that recorded its
digest, and its incident's `IncidentOpened` says which environment scopes it. A digest no
event names is not served even if the store holds it, and a caller outside the incident's
environments gets the same `NotFound` as for a digest never collected, so probing learns
nothing. The read is appended (`EvidenceRead`, with the reader as actor) after the store has
verified the bytes and before they are handed out: if the ledger cannot record it, nobody gets
them.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import anyio

from orchestrator.audit import EventStore
from orchestrator.domain import Actor, EventType, NewEvent, RecordedEvent
from orchestrator.errors import FirebreakError, InvalidInput, NotFound

READS_STREAM = "evidence-reads"
"""Every `EvidenceRead` on one stream of its own: the incident streams stay the workflow's."""


class EvidenceTampered(FirebreakError, status=500, title="Evidence failed its integrity check"):
    """The stored item does not open under the key ring or does not hash to its digest."""


class EvidenceReader(Protocol):
    async def read(self, digest: str) -> bytes:
        """The item's verified content; `NotFound`, `EvidenceTampered`, or `Unavailable` when
        the store does not answer."""
        ...


@dataclass(frozen=True)
class EvidenceItem:
    """One collected item as the ledger recorded it."""

    digest: str
    incident_id: str
    step_id: str
    collected_at: datetime
    environment: str


def _checked(digest: str) -> str:
    digest = digest.strip().removeprefix("sha256:").lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput("a digest is 64 hex digits (sha256), optionally after 'sha256:'")
    return digest


def _environment(store: EventStore, incident_id: str) -> str:
    page = store.query(stream=incident_id, types=[EventType.incident_opened.value], limit=1)
    return str(page.events[0].payload.get("environment", "")) if page.events else ""


def _collections(store: EventStore, incident_id: str | None) -> Iterator[RecordedEvent]:
    """`EvidenceCollected` events, of one incident or all; only those are read (and none of
    the incident's encrypted results decrypted)."""
    kinds = [EventType.evidence_collected.value]
    if incident_id is None:
        yield from store.read_all(types=kinds)
        return
    cursor: int | None = 0
    while cursor is not None:
        page = store.query(stream=incident_id, types=kinds, after_position=cursor, limit=500)
        yield from page.events
        cursor = page.next_cursor


def _items(store: EventStore, incident_id: str | None, digest: str | None) -> list[EvidenceItem]:
    events = _collections(store, incident_id)
    found: list[EvidenceItem] = []
    environments: dict[str, str] = {}
    for event in events:
        for item in event.payload.get("digests", []):
            if digest is not None and item != digest:
                continue
            if event.stream_id not in environments:
                environments[event.stream_id] = _environment(store, event.stream_id)
            found.append(
                EvidenceItem(
                    digest=str(item),
                    incident_id=event.stream_id,
                    step_id=str(event.payload.get("step_id", "")),
                    collected_at=event.occurred_at,
                    environment=environments[event.stream_id],
                )
            )
    return found


def of_incident(
    store: EventStore, incident_id: str, environments: Collection[str]
) -> list[EvidenceItem]:
    """The items an incident collected, in order; none for an incident out of scope."""
    return [i for i in _items(store, incident_id, None) if i.environment in environments]


def locate(store: EventStore, digest: str, environments: Collection[str]) -> EvidenceItem:
    """The first recorded collection of `digest` in the caller's environments."""
    digest = _checked(digest)
    for item in _items(store, None, digest):
        if item.environment in environments:
            return item
    raise NotFound(f"no evidence {digest}")


def record_read(store: EventStore, item: EvidenceItem, actor: Actor, via: str, size: int) -> None:
    event = NewEvent(
        id=str(uuid.uuid4()),
        type=EventType.evidence_read.value,
        actor=actor,
        occurred_at=datetime.now(UTC),
        payload={
            "digest": item.digest,
            "incident_id": item.incident_id,
            "step_id": item.step_id,
            "via": via,
            "bytes": size,
        },
    )
    store.append(READS_STREAM, [event])


async def read(
    store: EventStore,
    reader: EvidenceReader,
    digest: str,
    *,
    environments: Collection[str],
    actor: Actor,
    via: str,
) -> tuple[EvidenceItem, bytes]:
    """The item and its verified bytes, once the read is in the ledger."""
    item = await anyio.to_thread.run_sync(locate, store, digest, environments)
    content = await reader.read(item.digest)
    await anyio.to_thread.run_sync(record_read, store, item, actor, via, len(content))
    return item, content
