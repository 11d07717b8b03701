"""Tampering behind the store's back (raw SQL) is found by verify, which names the position."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from orchestrator.audit import (
    Checkpoint,
    CheckpointSigner,
    EventStore,
    Verdict,
    VerificationReport,
    schema,
)
from orchestrator.audit.chain import event_hash
from orchestrator.audit.notes import parse_note
from orchestrator.db import make_engine, upgrade
from orchestrator.errors import CryptoError
from tests.support.events import new_event


@contextmanager
def as_owner(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction as the database owner, past the PostgreSQL append-only trigger."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield conn


def tamper(engine: sa.Engine, *statements: str) -> None:
    """Run raw SQL as the database owner."""
    with as_owner(engine) as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def insider_checkpoint(engine: sa.Engine, signer: CheckpointSigner) -> Checkpoint:
    """A checkpoint signed with `signer`'s key by someone who can write the database: the
    store signs only with the ledger's active key, so they retire the listed keys first (the
    key table is a directory, never a trust anchor)."""
    tamper(
        engine,
        "UPDATE audit_signing_keys SET retired_at = CURRENT_TIMESTAMP WHERE retired_at IS NULL",
    )
    return EventStore(engine, signer=signer).checkpoint()


def at_position(position: int) -> sa.Select[tuple[object, ...]]:
    return sa.select(schema.events).where(schema.events.c.position == position)


def fill(store: EventStore, count: int = 6) -> None:
    for i in range(count):
        store.append(f"inc-{i % 2}", [new_event(payload={"i": i, "note": f"event {i}"})])


def verified_after(store: EventStore, *statements: str) -> VerificationReport:
    """Fill the log, tamper with it by `statements`, and verify it."""
    fill(store)
    tamper(store.engine, *statements)
    return store.verify()


def rehash_from(engine: sa.Engine, start: int) -> None:
    """What a capable attacker does after editing a row: recompute every hash after it."""
    with as_owner(engine) as conn:
        rows = conn.execute(sa.select(schema.events).order_by(schema.events.c.position)).mappings()
        prev = "0" * 64
        for row in list(rows):
            fields = {k: v for k, v in row.items() if k != "hash"}
            if row["position"] >= start:
                fields["prev_hash"] = prev
                digest = event_hash(**fields)
                conn.execute(
                    sa.text("UPDATE audit_events SET prev_hash=:p, hash=:h WHERE position=:pos"),
                    {"p": prev, "h": digest, "pos": row["position"]},
                )
                prev = digest
            else:
                prev = row["hash"]
        conn.execute(sa.text("UPDATE audit_head SET hash=:h"), {"h": prev})


def test_intact_log_verifies(store: EventStore) -> None:
    assert store.verify().ok
    fill(store)
    store.checkpoint()
    fill(store, 3)
    report = store.verify()
    assert report.ok, report.problem
    assert (report.checked, report.head_position, report.checkpoints_checked) == (9, 9, 1)
    assert report.head_hash == store.head()[1]


def test_modified_payload_is_found(store: EventStore) -> None:
    report = verified_after(
        store, """UPDATE audit_events SET payload='{"i":2,"note":"benign"}' WHERE position=3"""
    )
    assert not report.ok
    assert report.first_bad_position == 3
    assert "hash does not match" in (report.problem or "")


def test_modified_actor_with_recomputed_own_hash_breaks_the_next_link(store: EventStore) -> None:
    fill(store)
    tamper(store.engine, "UPDATE audit_events SET actor_id='mallory' WHERE position=3")
    with store.engine.connect() as conn:
        row = conn.execute(at_position(3)).mappings().one()
    forged = event_hash(**{k: v for k, v in row.items() if k != "hash"})
    tamper(store.engine, f"UPDATE audit_events SET hash='{forged}' WHERE position=3")
    report = store.verify()
    assert report.first_bad_position == 4
    assert "position 3" in (report.problem or "")


def test_forged_hash_is_found(store: EventStore) -> None:
    fake = hashlib.sha256(b"forged").hexdigest()
    report = verified_after(store, f"UPDATE audit_events SET hash='{fake}' WHERE position=4")
    assert (report.ok, report.first_bad_position) == (False, 4)


def test_deleted_row_is_found(store: EventStore) -> None:
    report = verified_after(store, "DELETE FROM audit_events WHERE position=3")
    assert (report.ok, report.first_bad_position) == (False, 3)
    assert "missing" in (report.problem or "")


def test_swapped_rows_are_found(store: EventStore) -> None:
    report = verified_after(
        store,
        "UPDATE audit_events SET position=-2 WHERE position=2",
        "UPDATE audit_events SET position=2 WHERE position=5",
        "UPDATE audit_events SET position=5 WHERE position=-2",
    )
    assert (report.ok, report.first_bad_position) == (False, 2)


def test_cut_off_tail_is_found(store: EventStore) -> None:
    report = verified_after(store, "DELETE FROM audit_events WHERE position >= 5")
    assert (report.ok, report.first_bad_position) == (False, 5)


def test_row_inserted_beyond_the_head_is_found(store: EventStore) -> None:
    fill(store)
    with store.engine.connect() as conn:
        row = dict(conn.execute(at_position(6)).mappings().one())
    row.update(position=7, version=99, event_id="injected", prev_hash=row["hash"])
    row["hash"] = event_hash(**{k: v for k, v in row.items() if k != "hash"})
    with store.engine.begin() as conn:
        conn.execute(sa.insert(schema.events), row)
    report = store.verify()
    assert (report.ok, report.first_bad_position) == (False, 7)


def test_rewritten_history_with_recomputed_hashes_is_caught_by_a_checkpoint(
    store: EventStore,
) -> None:
    fill(store)
    store.checkpoint()
    fill(store, 2)
    tamper(
        store.engine,
        """UPDATE audit_events SET payload='{"i":1,"note":"nothing"}' WHERE position=2""",
    )
    rehash_from(store.engine, 2)
    report = store.verify()
    assert (report.ok, report.first_bad_position) == (False, 6)
    assert "rewritten" in (report.problem or "")


def test_truncation_with_rewritten_head_is_caught_by_a_checkpoint(store: EventStore) -> None:
    fill(store)
    store.checkpoint()
    tamper(store.engine, "DELETE FROM audit_events WHERE position >= 4")
    with store.engine.connect() as conn:
        third = conn.execute(sa.text("SELECT hash FROM audit_events WHERE position=3")).scalar_one()
    tamper(store.engine, f"UPDATE audit_head SET position=3, hash='{third}'")
    report = store.verify()
    assert (report.ok, report.first_bad_position) == (False, 4)
    assert "removed" in (report.problem or "")


def test_forged_checkpoint_signature_is_found(store: EventStore) -> None:
    fill(store)
    point = store.checkpoint()
    flipped = ("0" if point.signature[0] != "0" else "1") + point.signature[1:]
    tamper(store.engine, f"UPDATE audit_checkpoints SET signature='{flipped}'")
    report = store.verify()
    assert (report.verdict, report.first_bad_position) == (Verdict.tampered, 6)
    assert "its signature differs from the note it was signed as" in (report.problem or "")


def test_checkpoint_signed_by_another_key_is_unverified_not_tampered(
    engine: sa.Engine, store: EventStore, signer: CheckpointSigner, tmp_path: Path
) -> None:
    """A key nobody said to trust anchors nothing, but its signature is not a bad one: the
    verdict names the key and the checkpoint instead of accusing the chain (C2SP notes
    ignore unknown keys' signatures; a trusted key's bad signature is tampering)."""
    fill(store)
    store.checkpoint()
    intruder = CheckpointSigner(tmp_path / "intruder.pem")
    theirs = insider_checkpoint(engine, intruder)
    report = store.verify()
    assert (report.ok, report.verdict, report.first_bad_position) == (
        False,
        Verdict.unverified,
        None,
    )
    [unknown] = report.unverified
    assert (unknown.position, unknown.kept) == (theirs.position, False)
    [label] = unknown.signed_by
    assert label.endswith(f"+{parse_note(theirs.note or '').signatures[0].hint:08x}")
    assert label in (report.problem or "") and "--vkey" in (report.problem or "")
    assert [u.checkpoints for u in report.keys] == [1], "the trusted key's own still counts"
    both = store.verify([signer.public_key(), intruder.public_key()])
    assert both.verdict is Verdict.intact and both.checkpoints_checked == 2


def test_auditor_verifies_with_only_the_exported_public_key(
    engine: sa.Engine, store: EventStore, signer: CheckpointSigner
) -> None:
    fill(store)
    store.checkpoint()
    auditor = EventStore(engine)
    assert auditor.verify(public_key=signer.public_key()).ok
    unchecked = auditor.verify()
    assert (unchecked.ok, unchecked.verdict) == (False, Verdict.unverified)
    assert "no trusted key was given" in (unchecked.problem or "")


def test_checkpoint_needs_a_signing_key(engine: sa.Engine) -> None:
    with pytest.raises(CryptoError, match="signing key"):
        EventStore(engine).checkpoint()


def test_signing_key_is_created_private(store: EventStore, signer: CheckpointSigner) -> None:
    store.checkpoint()
    assert signer.path.stat().st_mode & 0o777 == 0o600
    assert CheckpointSigner(signer.path).public_key_pem() == signer.public_key_pem()


def test_postgres_refuses_update_delete_and_truncate_of_events(pg_url: str) -> None:
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        fill(EventStore(engine))
        for statement in (
            "UPDATE audit_events SET type='X'",
            "DELETE FROM audit_events WHERE position=1",
            "TRUNCATE audit_events",
        ):
            with (
                pytest.raises(sa.exc.DBAPIError, match="append-only") as info,
                engine.begin() as conn,
            ):
                conn.exec_driver_sql(statement)
            assert isinstance(info.value.orig, psycopg.errors.InsufficientPrivilege)
        assert EventStore(engine).verify().ok
    finally:
        engine.dispose()


def test_stored_rows_keep_payload_json_exactly_as_hashed(store: EventStore) -> None:
    store.append("inc", [new_event(payload={"b": 1, "a": [1.5, None, "ü"]})])
    with store.engine.connect() as conn:
        text = conn.execute(sa.text("SELECT payload FROM audit_events")).scalar_one()
    assert text == '{"a":[1.5,null,"ü"],"b":1}'
    assert json.loads(text) == store.read_stream("inc")[0].payload
