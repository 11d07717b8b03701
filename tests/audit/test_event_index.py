"""The lookup table the filtered queries read through (`orchestrator.audit.event_index`): off
the append path, extended by readers, always a prefix of the log, never a reason to miss an
event."""

from __future__ import annotations

import multiprocessing
import random
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa

from orchestrator.audit import EventStore, schema
from orchestrator.audit.event_index import EventIndex, by_id
from orchestrator.db import make_engine, upgrade
from orchestrator.domain import Actor, NewEvent, RecordedEvent
from tests.audit.writers import append_shared
from tests.support.events import new_event

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TYPES = ["AlertReceived", "StepStarted", "StepSucceeded", "IncidentClosed"]
ACTORS = [Actor(id=name, role="responder") for name in ("alice", "bob", "Ärger ß")]


def random_events(rng: random.Random, n: int) -> list[NewEvent]:
    """Events of every type and actor, at times out of order (senders' clocks disagree)."""
    return [
        new_event(
            type=rng.choice(TYPES),
            actor=rng.choice(ACTORS),
            occurred_at=T0 + timedelta(minutes=rng.randint(0, 600)),
            payload={"n": rng.random()},
        )
        for _ in range(n)
    ]


def matching(
    events: list[RecordedEvent], types: list[str] | None, actor: str | None, since: datetime | None
) -> list[str]:
    return [
        e.id
        for e in events
        if (types is None or e.type in types)
        and (actor is None or e.actor.id == actor)
        and (since is None or e.occurred_at >= since)
    ]


def every_page(store: EventStore, **filters: object) -> list[str]:
    ids: list[str] = []
    cursor: int | None = 0
    while cursor is not None:
        page = store.query(after_position=cursor, limit=7, **filters)  # type: ignore[arg-type]
        ids.extend(e.id for e in page.events)
        cursor = page.next_cursor
    return ids


def test_appends_leave_the_table_alone_and_queries_extend_it(store: EventStore) -> None:
    store.append("s-1", [new_event() for _ in range(5)])
    assert store.index.stored_size() == 0
    assert len(every_page(store, types=["StepStarted"])) == 5
    assert store.index.stored_size() == 5
    store.append("s-2", [new_event(type="AlertReceived") for _ in range(3)])
    assert store.index.stored_size() == 5
    assert len(every_page(store, types=["AlertReceived"])) == 3
    assert store.index.stored_size() == 8


def test_filtered_queries_equal_a_scan_of_the_whole_log(store: EventStore) -> None:
    """Random events appended between queries: every filter, paged, gives exactly what a
    Python filter over the unfiltered log gives, in position order."""
    rng = random.Random(7)
    for round_ in range(4):
        for stream in range(3):
            store.append(f"inc-{round_}-{stream}", random_events(rng, rng.randint(1, 12)))
        log = list(store.read_all())
        for types, actor, since in [
            (["StepStarted"], None, None),
            (["AlertReceived", "IncidentClosed"], None, None),
            (None, "Ärger ß", None),
            (None, None, T0 + timedelta(minutes=300)),
            (["StepSucceeded"], "bob", T0 + timedelta(minutes=100)),
        ]:
            found = every_page(store, types=types, actor=actor, since=since)
            assert found == matching(log, types, actor, since), (round_, types, actor, since)
        assert list(store.read_all(types={"StepStarted"})) == [
            e for e in log if e.type == "StepStarted"
        ]


def test_lookup_by_id_finds_events_past_the_stored_size(store: EventStore) -> None:
    first = [new_event() for _ in range(3)]
    later = [new_event() for _ in range(2)]
    store.append("s", first)
    store.index.extend()
    store.append("s", later)
    assert store.index.stored_size() == 3
    statement = by_id([schema.events.c.event_id, schema.events.c.position])
    wanted = [e.id for e in first + later] + ["never-stored"]
    # Any size the table is known to hold gives every event once, the unindexed ones too.
    for indexed in (0, 2, 3):
        with store.engine.connect() as conn:
            params = {"event_ids": wanted, "indexed": indexed}
            rows = conn.execute(statement, params).all()
        assert sorted((position, event_id) for event_id, position in rows) == [
            (n + 1, e.id) for n, e in enumerate(first + later)
        ], indexed
    # The retried append looks ids up this way: the unindexed ones are found too.
    assert store.append("s", later) == [4, 5]
    assert store.inclusion_proof(later[1].id).position == 5


def test_readers_extending_at_once_store_each_event_once(engine: sa.Engine) -> None:
    store = EventStore(engine)
    for n in range(6):
        store.append(f"s-{n}", [new_event() for _ in range(50)])
    extenders = [EventIndex(engine, chunk=32) for _ in range(4)]
    start, failures = threading.Barrier(len(extenders)), []

    def extend(index: EventIndex) -> None:
        try:
            start.wait(timeout=30)
            index.extend()
        except Exception as exc:  # reported below, with the thread's error
            failures.append(exc)

    threads = [threading.Thread(target=extend, args=(index,)) for index in extenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    e, i = schema.events.c, schema.event_index.c
    with engine.connect() as conn:
        indexed = conn.execute(
            sa.select(i.position, i.event_id, i.type, i.actor_id).order_by(i.position)
        ).all()
        stored = conn.execute(
            sa.select(e.position, e.event_id, e.type, e.actor_id).order_by(e.position)
        ).all()
    assert [tuple(row) for row in indexed] == [tuple(row) for row in stored]
    assert len(indexed) == 300


def test_appends_sharing_ids_in_other_orders_neither_deadlock_nor_duplicate(db_url: str) -> None:
    """Ids are claimed before the head lock: four writer processes appending the same events
    in different orders at once all get the same positions back, with no deadlock (each
    claims its ids in one order)."""
    upgrade(db_url)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(4, mp_context=context) as pool:
        start = manager.Barrier(4)
        futures = [pool.submit(append_shared, db_url, seed, 30, 40, start) for seed in range(4)]
        results = [future.result(timeout=180) for future in futures]
    assert all(result == results[0] for result in results)
    assert sorted(p for positions in results[0] for p in positions) == list(range(1, 1201))
    engine = make_engine(db_url)
    try:
        assert EventStore(engine).verify().checked == 1200
    finally:
        engine.dispose()


def test_postgres_refuses_to_rewrite_the_claims_and_the_lookup_table(pg_url: str) -> None:
    """A deleted claim would let an id be stored twice; a deleted lookup row would hide an
    event from filtered queries."""
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        store = EventStore(engine)
        store.append("s", [new_event(), new_event()])
        store.index.extend()
        for table in ("audit_event_ids", "audit_event_index"):
            for statement in (
                f"UPDATE {table} SET event_id='x'",
                f"DELETE FROM {table}",
                f"TRUNCATE {table}",
            ):
                with (
                    pytest.raises(sa.exc.DBAPIError, match="append-only") as info,
                    engine.begin() as conn,
                ):
                    conn.exec_driver_sql(statement)
                assert isinstance(info.value.orig, psycopg.errors.InsufficientPrivilege)
        assert len(every_page(store, types=["StepStarted"])) == 2
    finally:
        engine.dispose()


def test_a_lookup_row_left_by_a_cut_log_selects_nothing(sqlite_url: str) -> None:
    """An owner cuts the tail (SQLite has no guard triggers) and appends again: the lookup
    rows of the cut events must not select the new events at their positions."""
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        store = EventStore(engine)
        store.append("s", [new_event(type="AlertReceived") for _ in range(3)])
        store.index.extend()
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM audit_events WHERE position > 1")
            hash_ = conn.exec_driver_sql("SELECT hash FROM audit_events").scalar_one()
            conn.exec_driver_sql(f"UPDATE audit_head SET position = 1, hash = '{hash_}'")
        later = [new_event(type="StepStarted") for _ in range(2)]
        store.append("t", later)
        assert [e.position for e in store.query(types=["AlertReceived"]).events] == [1]
        # The table still holds 3 events, so the new ones at 2 and 3 are not indexed: a cut
        # log's filtered queries miss them, which verification against a kept checkpoint
        # reports (test_kept_checkpoints); they are never shown under the cut events' fields.
        assert store.index.stored_size() == 3
        assert store.query(types=["StepStarted"]).events == []
    finally:
        engine.dispose()
