"""PostgreSQL's one-round-trip append (`audit_append`, migration 0013) against the Python chain.

The server hashes the chain itself, so its SQL encoding must give the bytes `chain.event_hash`
gives for every value a user can store; verification (Python) re-checks what the server wrote.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from orchestrator.audit import EventStore, schema
from orchestrator.audit.chain import GENESIS_HASH, HASHED_FIELDS, canonical_json, event_hash
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
HASH_CALL = (
    "SELECT audit_event_hash(%(position)s::bigint, %(stream_id)s, %(version)s::integer,"
    " %(event_id)s,"
    " %(type)s, %(actor_id)s, %(actor_role)s, %(occurred_at)s, %(recorded_at)s, %(payload)s,"
    " %(encrypted_fields)s, %(key_id)s, %(prev_hash)s)"
)


@pytest.fixture
def db_url(pg_url: str) -> str:
    """Only PostgreSQL here: the conftest's `engine` is a migrated PostgreSQL database."""
    return pg_url


def _row(text: str, n: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "position": n,
        "stream_id": f"stream {text}",
        "version": n % 2**31,
        "event_id": f"id-{n}",
        "type": text or "T",
        "actor_id": text,
        "actor_role": text[:50],
        "occurred_at": datetime(2026, 2, 28, 23, 59, 59, n % 1_000_000, tzinfo=UTC),
        "recorded_at": datetime(2026, 12, 1, 0, 0, 0, 0, tzinfo=UTC),
        "payload": canonical_json({text: [text, {"k": text}], "n": n, "x": 1.5, "z": None}),
        "encrypted_fields": canonical_json([text] if text else []),
        "key_id": text or None,
        "prev_hash": GENESIS_HASH,
    }
    return {**row, **changes}


@pytest.mark.parametrize("text", TRICKY)
def test_the_server_hash_is_the_python_hash_byte_for_byte(
    pg_url: str, engine: sa.Engine, text: str
) -> None:
    rows = [
        _row(text, 1),
        _row(text, 999_999, key_id=None, prev_hash="f" * 64),
        _row(text, 2**40, occurred_at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ]
    with psycopg.connect(_libpq(pg_url)) as conn:
        for row in rows:
            server = conn.execute(HASH_CALL, row).fetchone()
            assert server is not None
            assert server[0] == event_hash(**row), row


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


def test_an_append_is_one_statement_after_the_pool_ping(engine: sa.Engine, tmp_path: Path) -> None:
    store = EventStore(engine)
    store.append("warm", [new_event()])
    path = tmp_path / "libpq.trace"
    with path.open("w") as trace:
        raw = engine.raw_connection()
        pgconn = raw.driver_connection.pgconn  # type: ignore[union-attr]
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        raw.close()  # the pool's only connection: the append below takes it back
        store.append("traced", [new_event(), new_event()], expected_version=0)
        raw = engine.raw_connection()
        raw.driver_connection.pgconn.untrace()  # type: ignore[union-attr]
        raw.close()
    lines = path.read_text().splitlines()
    sent = [line.split("\t")[2].split()[0] for line in lines if line.startswith("F")]
    # Each round trip ends with a Sync (extended protocol) or is a simple Query (the ping, ";").
    trips = [message for message in sent if message in ("Sync", "Query")]
    assert trips == ["Query", "Sync", "Query"], sent  # ping, the call, the untrace's ping


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
        " ARRAY['{}'], ARRAY['[]'], ARRAY[NULL]::text[])"
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
