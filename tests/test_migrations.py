"""The same migrations go up and down on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator.audit import CheckpointSigner, EventStore
from orchestrator.audit.chain import checkpoint_message
from orchestrator.audit.signing import fingerprint
from orchestrator.db import current_revision, downgrade, head_revision, make_engine, upgrade
from orchestrator.domain import Actor
from orchestrator.errors import Conflict, InvalidInput
from tests.support.events import new_event

AUDIT_TABLES = {"audit_events", "audit_head", "audit_checkpoints"}


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def pg_triggers(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(
                conn.exec_driver_sql(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass"
                ).scalars()
            )
    finally:
        engine.dispose()


def test_upgrade_and_downgrade_round_trip(db_url: str) -> None:
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()
    assert tables(db_url) >= AUDIT_TABLES
    if db_url.startswith("postgresql"):
        assert pg_triggers(db_url) == {
            "audit_events_no_update_delete",
            "audit_events_no_truncate",
        }
    downgrade(db_url, "base")
    assert current_revision(db_url) is None
    assert not AUDIT_TABLES & tables(db_url)
    upgrade(db_url, "0001")
    assert current_revision(db_url) == "0001"
    assert tables(db_url) >= AUDIT_TABLES
    downgrade(db_url, "base")
    assert not AUDIT_TABLES & tables(db_url)


def test_upgrade_is_idempotent(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()


def test_unknown_revision_is_a_clear_error(sqlite_url: str) -> None:
    with pytest.raises(InvalidInput, match="cannot upgrade to 'nope'"):
        upgrade(sqlite_url, "nope")


def test_sqlite_file_gets_its_directory_and_wal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/deep/er/firebreak.db"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        engine.dispose()


def test_0009_adds_the_lifecycle_columns_to_existing_incidents(db_url: str) -> None:
    """A row projected before 0009 keeps its data and reads as an incident with no lifecycle
    facts yet; downgrading drops only what 0009 added."""
    upgrade(db_url, "0005")
    engine = make_engine(db_url)
    row = {
        "id": "incident-old.run",
        "opened_position": 1,
        "workflow_id": "incident-old",
        "status": "active",
        "type": "prompt_injection",
        "severity": "high",
        "environment": "prod",
        "title": "before the lifecycle",
        "correlation_key": "k",
        "opened_at": "2026-11-30 08:00:00",
        "phases": "{}",
        "pending": "[]",
        "alert_count": 1,
        "resolved_alert_count": 0,
        "last_position": 2,
        "last_event_at": "2026-11-30 08:00:01",
    }
    columns = ", ".join(row)
    values = ", ".join(f":{k}" for k in row)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO incidents ({columns}) VALUES ({values})"), row)
        upgrade(db_url, "0009")
        assert "incident_sla_breaches" in tables(db_url)
        with engine.connect() as conn:
            got = conn.execute(
                sa.text("SELECT status, reopened_count, sla, sla_breached FROM incidents")
            ).one()
        assert got[0] == "active" and got[1] == 0 and got[2] is None
        assert got[3] in ("[]", [])
        downgrade(db_url, "0005")
        assert "incident_sla_breaches" not in tables(db_url)
        with engine.connect() as conn:
            names = {c["name"] for c in sa.inspect(conn).get_columns("incidents")}
            kept = conn.execute(sa.text("SELECT title FROM incidents")).scalar()
        assert "reopened_count" not in names and kept == "before the lifecycle"
    finally:
        engine.dispose()


def test_0012_keeps_checkpoints_signed_before_notes(db_url: str, tmp_path: Path) -> None:
    """An install from before 0012 (its key file, its JSON-signed checkpoint) upgrades: the
    old checkpoint still verifies, the old key becomes the first in the key table when it
    next signs, and downgrading drops only what 0012 added (on PostgreSQL past the
    checkpoints' append-only trigger, which a column change does not fire)."""
    upgrade(db_url, "0011")
    engine = make_engine(db_url)
    signer = CheckpointSigner(tmp_path / "checkpoint-ed25519.pem")
    made = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO audit_checkpoints (position, head_hash, created_at,"
                    " key_fingerprint, signature) VALUES (0, :h, :c, :f, :s)"
                ),
                {
                    "h": "0" * 64,
                    "c": made,
                    "f": fingerprint(signer.public_key()),
                    "s": signer.sign(checkpoint_message(0, "0" * 64, made)).hex(),
                },
            )
        upgrade(db_url)
        store = EventStore(engine, signer=signer)
        assert store.checkpoints()[0].note is None
        store.checkpoint()
        report = store.verify()
        assert report.ok and report.checkpoints_checked == 2, report.problem
        assert store.signing_keys()[0].fingerprint == fingerprint(signer.public_key())
        downgrade(db_url, "0011")
        assert "audit_signing_keys" not in tables(db_url)
        with engine.connect() as conn:
            names = {c["name"] for c in sa.inspect(conn).get_columns("audit_checkpoints")}
            count = conn.execute(sa.text("SELECT count(*) FROM audit_checkpoints")).scalar()
        assert "note" not in names and "root_hash" not in names and count == 2
    finally:
        engine.dispose()


def pg_collations(engine: sa.Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT column_name, collation_name FROM information_schema.columns"
            " WHERE table_name = 'audit_events'"
            " AND column_name IN ('stream_id', 'event_id', 'type', 'actor_id')"
        )
        return {name: collation for name, collation in rows}


def test_0018_compares_identifiers_as_bytes_and_keeps_every_event(pg_url: str) -> None:
    """Events stored before 0018, under identifiers a linguistic collation orders unlike their
    bytes (case, non-ASCII, a space), are still found by stream and by id afterwards,
    re-appending them is still idempotent, and no hash changes; the downgrade gives the
    default collation back."""
    upgrade(pg_url, "0017")
    engine = make_engine(pg_url)
    streams = ["Zeta", "alpha", "Ärger-ß", "日本-1", "a b"]
    try:
        store = EventStore(engine)
        events = {stream: [new_event(id=f"{stream}:é{i}") for i in range(2)] for stream in streams}
        positions = {stream: store.append(stream, batch) for stream, batch in events.items()}
        upgrade(pg_url)
        assert set(pg_collations(engine).values()) == {"C"}
        store = EventStore(engine)
        for stream, batch in events.items():
            assert [e.id for e in store.read_stream(stream)] == [e.id for e in batch]
            assert store.append(stream, batch) == positions[stream]
        with pytest.raises(Conflict):
            store.append("Zeta", [new_event()], expected_version=0)
        report = store.verify()
        assert report.ok and report.checked == 2 * len(streams), report.problem
        downgrade(pg_url, "0017")
        assert set(pg_collations(engine).values()) == {None}
        assert EventStore(engine).verify().ok
    finally:
        engine.dispose()


def test_0019_moves_the_query_indexes_and_keeps_every_event(db_url: str) -> None:
    """Events stored before 0019 are found afterwards by type, actor, time and id, re-appending
    them is still idempotent and a reused id with other content still refused; the downgrade
    gives the old indexes and the unique event id back."""
    upgrade(db_url)
    engine = make_engine(db_url)
    bob = Actor(id="bob", role="responder")
    try:
        # Stored by the current code, then taken down to 0018 and up again: the events are
        # what 0019 meets (0018's store code is not this one).
        events = [new_event(type="AlertReceived"), new_event(actor=bob), new_event()]
        positions = EventStore(engine).append("inc-1", events)
        downgrade(db_url, "0018")
        upgrade(db_url)
        store = EventStore(engine)
        assert store.index.stored_size() == 3
        by_type = store.query(types=["StepStarted"]).events
        assert [e.id for e in by_type] == [events[1].id, events[2].id]
        assert [e.id for e in store.query(actor="bob").events] == [events[1].id]
        assert [e.id for e in store.query(since=events[2].occurred_at).events] == [events[2].id]
        assert store.append("inc-1", events) == positions
        with pytest.raises(Conflict, match="different content"):
            store.append("inc-2", [events[0]])
        assert store.inclusion_proof(events[1].id).position == positions[1]
        assert store.verify().ok
        downgrade(db_url, "0018")
        inspector = sa.inspect(engine)
        assert {"ix_audit_events_type_position", "ix_audit_events_occurred_at"} <= {
            index["name"] for index in inspector.get_indexes("audit_events")
        }
        assert "uq_audit_events_event_id" in {
            c["name"] for c in inspector.get_unique_constraints("audit_events")
        }
        assert "audit_event_index" not in inspector.get_table_names()
    finally:
        engine.dispose()
