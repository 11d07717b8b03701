"""Appending, reading, querying and exporting, on both backends."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from orchestrator.audit import EventStore
from orchestrator.domain import Actor
from orchestrator.errors import ConcurrencyError, Conflict, InvalidInput
from tests.support.events import new_event


def count_rows(store: EventStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar_one())


def test_append_assigns_consecutive_positions_and_versions(store: EventStore) -> None:
    assert store.append("inc-a", [new_event(), new_event()]) == [1, 2]
    assert store.append("inc-b", [new_event()]) == [3]
    assert store.append("inc-a", [new_event(payload={"n": 3})]) == [4]
    stream = store.read_stream("inc-a")
    assert [(e.position, e.version) for e in stream] == [(1, 1), (2, 2), (4, 3)]
    assert stream[2].payload == {"n": 3}
    assert [e.version for e in store.read_stream("inc-a", after_version=2)] == [3]
    assert store.read_stream("nothing") == []


def test_events_round_trip_with_utc_timestamps(store: EventStore) -> None:
    local = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin"))
    event = new_event("AlertReceived", payload={"b": [1, 2], "a": {"x": "é"}}, occurred_at=local)
    store.append("inc", [event])
    (stored,) = store.read_stream("inc")
    assert stored.id == event.id
    assert stored.type == "AlertReceived"
    assert stored.actor == Actor(id="alice", role="responder")
    assert stored.occurred_at == datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert stored.recorded_at.tzinfo is not None
    assert stored.payload == {"b": [1, 2], "a": {"x": "é"}}
    assert stored.prev_hash == "0" * 64
    assert store.head() == (1, stored.hash)


@pytest.mark.parametrize(
    "occurred_at",
    [
        datetime(1, 1, 1, tzinfo=UTC),  # a Go zero time, as Alertmanager sends "not ended"
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_events_dated_at_the_edges_of_the_calendar_verify(
    store: EventStore, occurred_at: datetime
) -> None:
    store.append("edges", [new_event("AlertReceived", occurred_at=occurred_at)])
    store.append("edges", [new_event("AlertReceived"), new_event("AlertReceived")])
    (first, *_) = store.read_stream("edges")
    assert first.occurred_at == occurred_at
    report = store.verify()
    assert report.ok and report.checked == 3, report


def test_expected_version_is_checked(store: EventStore) -> None:
    store.append("inc", [new_event()], expected_version=0)
    with pytest.raises(ConcurrencyError, match="at version 1, expected 0"):
        store.append("inc", [new_event()], expected_version=0)
    with pytest.raises(ConcurrencyError, match="expected 5"):
        store.append("inc", [new_event()], expected_version=5)
    assert store.append("inc", [new_event()], expected_version=1) == [2]
    assert store.append("inc", [new_event()]) == [3]
    assert count_rows(store) == 3


def test_reappending_identical_event_returns_stored_position_and_writes_nothing(
    store: EventStore,
) -> None:
    first = new_event(payload={"k": "v"}, sensitive=("k",))
    second = new_event()
    assert store.append("inc", [first, second], expected_version=0) == [1, 2]
    head = store.head()
    # A retry after a lost reply: same ids, same content, even with the now-stale version.
    assert store.append("inc", [first, second], expected_version=0) == [1, 2]
    assert store.head() == head
    assert count_rows(store) == 2
    # Per-event idempotency: the stored one is skipped, the new one appended after it.
    assert store.append("inc", [second, new_event()]) == [2, 3]
    assert count_rows(store) == 3


def test_same_event_id_with_different_content_is_a_conflict(store: EventStore) -> None:
    original = new_event(payload={"k": "v"})
    store.append("inc", [original])
    changed = original.model_copy(update={"payload": {"k": "other"}})
    with pytest.raises(Conflict, match="already stored at position 1 with different content"):
        store.append("inc", [changed])
    moved = original.model_copy()
    with pytest.raises(Conflict):
        store.append("another-stream", [moved])
    assert count_rows(store) == 1


def test_batch_is_atomic(store: EventStore) -> None:
    stored = new_event(payload={"k": "v"})
    store.append("inc", [stored])
    clash = stored.model_copy(update={"type": "StepFailed"})
    with pytest.raises(Conflict):
        store.append("inc", [new_event(), new_event(), clash])
    assert count_rows(store) == 1
    assert store.head()[0] == 1
    assert store.append("inc", [new_event()]) == [2]


@pytest.mark.parametrize(
    ("stream", "events", "expected", "field"),
    [
        ("", [new_event()], None, "stream_id"),
        ("s" * 201, [new_event()], None, "stream_id"),
        ("inc", [new_event()], -1, "expected_version"),
        ("inc", [new_event()], 2**31, "expected_version"),
        ("inc", [new_event(id="same"), new_event(id="same")], None, "events"),
        ("inc", [new_event(type="")], None, "type"),
        ("inc", [new_event(id="x" * 65)], None, "id"),
        ("inc", [new_event(payload={"n": float("nan")})], None, "payload"),
        ("inc", [new_event(payload={"n": float("nan")}, sensitive=("n",))], None, "payload"),
        ("inc", [new_event(payload={"n": object()})], None, "payload"),
    ],
)
def test_invalid_appends_are_rejected_with_the_field(
    store: EventStore, stream: str, events: list, expected: int | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        store.append(stream, events, expected)
    assert info.value.field == field
    assert count_rows(store) == 0


def test_read_all_resumes_from_a_position_in_batches(store: EventStore) -> None:
    for i in range(7):
        store.append(f"inc-{i % 3}", [new_event(payload={"i": i})])
    assert [e.payload["i"] for e in store.read_all(batch_size=2)] == list(range(7))
    assert [e.position for e in store.read_all(after_position=5, batch_size=1)] == [6, 7]
    assert list(store.read_all(after_position=7)) == []


def test_query_filters_and_paginates_by_cursor(store: EventStore) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    bob = Actor(id="bob", role="admin")
    for i in range(10):
        store.append(
            "inc-x" if i % 2 else "inc-y",
            [
                new_event(
                    "StepApproved" if i % 3 == 0 else "StepStarted",
                    actor=bob if i >= 5 else Actor(id="alice", role="responder"),
                    occurred_at=t0 + timedelta(hours=i),
                    payload={"i": i},
                )
            ],
        )

    def ids(**filters: object) -> list[int]:
        return [e.payload["i"] for e in store.query(**filters).events]  # type: ignore[arg-type]

    assert ids(stream="inc-x") == [1, 3, 5, 7, 9]
    assert ids(types=["StepApproved"]) == [0, 3, 6, 9]
    assert ids(types=["StepApproved", "StepStarted"], actor="bob") == [5, 6, 7, 8, 9]
    assert ids(since=t0 + timedelta(hours=2), until=t0 + timedelta(hours=4)) == [2, 3]
    assert ids(stream="inc-y", actor="bob", types=["StepApproved"]) == [6]

    page = store.query(stream="inc-x", limit=2)
    assert [e.payload["i"] for e in page.events] == [1, 3]
    seen = [e.payload["i"] for e in page.events]
    while page.next_cursor is not None:
        page = store.query(stream="inc-x", limit=2, after_position=page.next_cursor)
        seen += [e.payload["i"] for e in page.events]
    assert seen == [1, 3, 5, 7, 9]
    exact = store.query(stream="inc-x", limit=5)
    assert exact.next_cursor is None


@pytest.mark.parametrize("limit", [0, 1001])
def test_query_limit_is_bounded(store: EventStore, limit: int) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        store.query(limit=limit)


def test_export_writes_json_lines_of_matching_events(store: EventStore) -> None:
    events = [new_event(payload={"i": i}) for i in range(2500)]
    store.append("big", events[:1500])
    store.append("other", [new_event("StepFailed")])
    store.append("big", events[1500:])
    out = io.StringIO()
    assert store.export(out, stream="big") == 2500
    lines = out.getvalue().splitlines()
    assert len(lines) == 2500
    parsed = [json.loads(line) for line in lines]
    assert [p["payload"]["i"] for p in parsed] == list(range(2500))
    assert parsed[0]["hash"] and parsed[0]["stream_id"] == "big"
    failed = io.StringIO()
    assert store.export(failed, types=["StepFailed"]) == 1
