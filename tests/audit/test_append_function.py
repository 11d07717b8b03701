"""PostgreSQL's one-round-trip append (`audit_append`, migration 0017) against the Python chain.

The server completes each event's encoding (position, stream id, version, previous hash) and
hashes the chain itself, so what it hashes must be the bytes `chain.event_hash` gives for every
value a user can store; verification (Python) re-checks what the server wrote.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from orchestrator.audit import EventStore, schema
from orchestrator.audit.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical_json,
    event_fields_text,
    event_hash,
)
from orchestrator.db import make_engine, upgrade
from orchestrator.errors import Conflict
from orchestrator.security.keyring import KeyRing
from tests.audit.writers import append_same_events
from tests.support.databases import _libpq
from tests.support.events import new_event

TRICKY = [
    "",
    'quote " inside',
    "back\\slash \\n not a newline",
    "".join(chr(c) for c in range(1, 32)),
    "del \x7f and U+0080 \x80",
    "é ü ß 中文 日本語",
    "emoji 😀 🧯 and a flag 🇪🇺",
    "line\u2028separator\u2029paragraph",
    "\ufeff BOM and \ufffd replacement",
    "</script><!-- -->",
    "tab\tnew\nline\rcr\x08bs\x0cff",
]
APPEND_CALL = (
    "SELECT audit_append(%(recorded_at)s, ARRAY[%(stream_id)s], ARRAY[NULL]::integer[],"
    " ARRAY[1], ARRAY[%(event_id)s], ARRAY[%(type)s], ARRAY[%(actor_id)s], ARRAY[%(actor_role)s],"
    " ARRAY[%(occurred_at)s::timestamptz], ARRAY[%(payload)s], ARRAY[%(encrypted_fields)s],"
    " ARRAY[%(key_id)s::text], ARRAY[%(encoded)s])"
)


@pytest.fixture
def db_url(pg_url: str) -> str:
    """Only PostgreSQL here: the conftest's `engine` is a migrated PostgreSQL database."""
    return pg_url


def _row(text: str, n: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "stream_id": f"stream {text}",
        "event_id": f"id-{n}",
        "type": text or "T",
        "actor_id": text,
        "actor_role": text[:50],
        "occurred_at": datetime(2026, 2, 28, 23, 59, 59, n % 1_000_000, tzinfo=UTC),
        "recorded_at": datetime(2026, 12, 1, 0, 0, 0, 0, tzinfo=UTC),
        "payload": canonical_json({text: [text, {"k": text}], "n": n, "x": 1.5, "z": None}),
        "encrypted_fields": canonical_json([text] if text else []),
        "key_id": text or None,
    }
    return {**row, **changes}


@pytest.mark.parametrize("text", TRICKY)
def test_the_server_hash_is_the_python_hash_byte_for_byte(
    pg_url: str, engine: sa.Engine, text: str
) -> None:
    """Every hashed column holds the tricky text, called directly: the server's part of the
    encoding (position, the stream id's JSON, version, previous hash) around the client's
    `event_fields_text` gives the bytes `chain.event_hash` gives for the stored row."""
    rows = [
        _row(text, 1),
        _row(text, 999_999, key_id=None),
        _row(text, 2**30, occurred_at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        _row(text, 7, occurred_at=datetime(1, 1, 1, tzinfo=UTC)),
        _row(text, 8, occurred_at=datetime(999, 6, 1, 12, 0, 0, 5, tzinfo=UTC)),
    ]
    with psycopg.connect(_libpq(pg_url), autocommit=True) as conn:
        for row in rows:
            conn.execute(APPEND_CALL, {**row, "encoded": event_fields_text(row)})
    with engine.connect() as conn:
        stored = conn.execute(sa.select(schema.events).order_by(schema.events.c.position)).all()
    prev = GENESIS_HASH
    for row, sent in zip(stored, rows, strict=True):
        fields = {name: getattr(row, name) for name in HASHED_FIELDS}
        assert (fields["stream_id"], fields["actor_id"], fields["key_id"]) == (
            sent["stream_id"],
            sent["actor_id"],
            sent["key_id"],
        )
        assert fields["prev_hash"] == prev
        assert row.hash == event_hash(**fields), row
        prev = row.hash
    report = EventStore(engine).verify()
    assert report.ok and report.checked == len(rows), report


def test_appends_of_tricky_values_verify_and_match_the_python_chain(
    engine: sa.Engine,
) -> None:
    store = EventStore(engine, keyring=KeyRing.generate())
    for n, text in enumerate(TRICKY):
        events = [
            new_event(text or "T", payload={text: text, "list": [text, n]}),
            new_event("Sealed", payload={"secret": text, "clear": text}, sensitive=["secret"]),
        ]
        assert store.append(f"stream {text}", events, expected_version=0) == [
            2 * n + 1,
            2 * n + 2,
        ]
    with engine.connect() as conn:
        stored = conn.execute(sa.select(schema.events).order_by(schema.events.c.position)).all()
    prev = GENESIS_HASH
    for row in stored:
        fields = {name: getattr(row, name) for name in HASHED_FIELDS}
        assert fields["prev_hash"] == prev
        assert row.hash == event_hash(**fields)
        prev = row.hash
    assert store.head() == (len(stored), prev)
    assert stored[1].key_id is not None and stored[0].key_id is None
    assert store.read_stream("stream " + TRICKY[2])[1].payload["secret"] == TRICKY[2]
    report = store.verify()
    assert report.ok and report.checked == 2 * len(TRICKY), report


def _round_trips(engine: sa.Engine, path: Path, work: Callable[[], object]) -> list[str]:
    """The messages that end a round trip (a Sync of the extended protocol, or a simple Query
    such as the pool's ping ";") sent on the pool's one connection while `work` runs."""
    with path.open("w") as trace:
        raw = engine.raw_connection()
        pgconn = raw.driver_connection.pgconn  # type: ignore[union-attr]
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        raw.close()  # the pool's only connection: `work` takes it back
        work()
        raw = engine.raw_connection()
        raw.driver_connection.pgconn.untrace()  # type: ignore[union-attr]
        raw.close()
    lines = path.read_text().splitlines()
    sent = [line.split("\t")[2].split()[0] for line in lines if line.startswith("F")]
    return [message for message in sent if message in ("Sync", "Query")]


def test_an_append_is_one_round_trip(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    engine = make_engine(pg_url, ping_after_idle=30)
    store = EventStore(engine)
    store.append("warm", [new_event()])
    traced = _round_trips(
        engine,
        tmp_path / "libpq.trace",
        lambda: store.append("traced", [new_event(), new_event()], expected_version=0),
    )
    assert traced == ["Sync"]
    engine.dispose()


def test_a_connection_idle_past_the_window_is_pinged_first(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    engine = make_engine(pg_url, ping_after_idle=0.2)
    store = EventStore(engine)
    store.append("warm", [new_event()])

    def after_a_pause() -> None:
        time.sleep(0.3)
        store.append("traced", [new_event()])

    assert _round_trips(engine, tmp_path / "libpq.trace", after_a_pause) == ["Query", "Sync"]
    engine.dispose()


def _kill_backends_of(pg_url: str) -> int:
    database = make_url(pg_url).database
    with psycopg.connect(_libpq(pg_url), autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()
    assert killed is not None
    return int(killed[0])


@pytest.mark.parametrize("idle", [False, True], ids=["within-the-window", "idle"])
def test_an_append_survives_its_pooled_connection_being_killed(pg_url: str, idle: bool) -> None:
    """Killed while idle past the window: the ping finds it dead and the pool hands out a new
    one. Killed moments after its last use (no ping): the call fails on the dead connection
    and the store makes it again once. Either way the event is stored once."""
    upgrade(pg_url)
    engine = make_engine(pg_url, ping_after_idle=0.2)
    store = EventStore(engine)
    store.append("s", [new_event()])
    assert _kill_backends_of(pg_url) == 1
    if idle:
        time.sleep(0.3)
    event = new_event()
    assert store.append("s", [event]) == [2]
    assert [e.id for e in store.read_stream("s")][1:] == [event.id]
    report = store.verify()
    assert report.ok and report.checked == 2, report
    engine.dispose()


def test_a_repeated_id_in_a_batch_rolls_the_whole_call_back(engine: sa.Engine) -> None:
    store = EventStore(engine)
    stored = new_event(payload={"n": 1})
    store.append("a", [stored])
    with pytest.raises(Conflict):
        store.append("b", [new_event(), stored.model_copy(update={"payload": {"n": 2}})])
    assert store.head()[0] == 1
    assert store.append("b", [new_event()]) == [2]
    assert store.verify().ok


def test_counts_that_do_not_match_the_events_are_refused(engine: sa.Engine) -> None:
    now = datetime.now(UTC)
    call = sa.text(
        "SELECT audit_append(:now, ARRAY['s'], ARRAY[NULL]::integer[], ARRAY[2],"
        " ARRAY['id-1'], ARRAY['T'], ARRAY['a'], ARRAY['r'], ARRAY[CAST(:now AS timestamptz)],"
        " ARRAY['{}'], ARRAY['[]'], ARRAY[NULL]::text[], ARRAY['encoded'])"
    )
    refused = pytest.raises(sa.exc.DataError, match="1 events given, the counts say 2")
    with refused, engine.begin() as conn:
        conn.execute(call, {"now": now})
    assert EventStore(engine).head() == (0, GENESIS_HASH)


def test_four_processes_appending_the_same_events_store_each_once(
    pg_url: str, engine: sa.Engine
) -> None:
    """Every writer retries the same 40 appends (same ids, same content): each event is
    stored once, every writer is given the same positions, and the chain is whole."""
    seed = int.from_bytes(os.urandom(4), "big")
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=ctx) as pool:
        results = list(pool.map(append_same_events, [pg_url] * 4, [seed] * 4, [40] * 4))
    assert results[0] == results[1] == results[2] == results[3]
    positions = [p for batch in results[0] for p in batch]
    assert sorted(positions) == list(range(1, len(positions) + 1))
    store = EventStore(engine)
    assert store.head()[0] == len(positions)
    assert [e.version for e in store.read_stream("same")] == list(range(1, len(positions) + 1))
    report = store.verify()
    assert report.ok, report.problem
