"""What the database's own checkpoints cannot prove, a checkpoint kept outside it does: an
insider (the database owner, past every trigger) cuts the tail, rewrites the head row and
deletes the checkpoints, and `verify` passes — unless the auditor hands it the checkpoint they
kept. On SQLite and PostgreSQL; plus PostgreSQL's triggers that now guard the checkpoints and
the head row against the application role."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from orchestrator.audit import Checkpoint, CheckpointSigner, EventStore, Verdict
from orchestrator.db import make_engine, upgrade
from tests.audit.test_tamper import fill, insider_checkpoint, rehash_from, tamper


def cut_tail_and_cover_it_up(store: EventStore, keep: int) -> None:
    """Delete every event after `keep`, point the head at it and delete every checkpoint."""
    with store.engine.connect() as conn:
        kept_hash = conn.execute(
            sa.text("SELECT hash FROM audit_events WHERE position=:p"), {"p": keep}
        ).scalar_one()
    tamper(
        store.engine,
        f"DELETE FROM audit_events WHERE position > {keep}",
        f"UPDATE audit_head SET position={keep}, hash='{kept_hash}'",
        "DELETE FROM audit_checkpoints",
    )


def test_a_covered_up_truncation_passes_alone_and_is_caught_by_a_kept_checkpoint(
    store: EventStore,
) -> None:
    fill(store)
    kept = store.checkpoint()  # at position 6; the auditor keeps a copy
    fill(store, 2)
    assert store.verify(kept=[kept]).ok

    cut_tail_and_cover_it_up(store, keep=3)
    alone = store.verify()
    assert alone.ok, "the gap this closes: nothing in the database says events are missing"
    report = store.verify(kept=[kept])
    assert (report.ok, report.first_bad_position) == (False, 4)
    assert "kept checkpoint at position 6" in (report.problem or "")
    assert "events were removed" in (report.problem or "")


def test_a_rewritten_history_is_caught_by_a_kept_checkpoint_after_its_copy_is_deleted(
    store: EventStore,
) -> None:
    fill(store)
    kept = store.checkpoint()
    tamper(
        store.engine,
        """UPDATE audit_events SET payload='{"i":1,"note":"nothing"}' WHERE position=2""",
        "DELETE FROM audit_checkpoints",
    )
    rehash_from(store.engine, 2)
    assert store.verify().ok
    report = store.verify(kept=[kept])
    assert (report.ok, report.first_bad_position) == (False, 6)
    assert "rewritten at or before position 6" in (report.problem or "")


def test_deleted_checkpoints_are_named_even_when_the_chain_is_intact(store: EventStore) -> None:
    fill(store)
    kept = store.checkpoint()
    tamper(store.engine, "DELETE FROM audit_checkpoints")
    report = store.verify(kept=[kept])
    assert not report.ok and "missing from the database" in (report.problem or "")


def test_a_kept_checkpoint_by_another_key_anchors_nothing_and_accuses_nothing(
    engine: sa.Engine, store: EventStore, tmp_path: Path
) -> None:
    fill(store)
    genuine = store.checkpoint()
    assert store.verify(kept=[genuine]).kept_checked == 1
    forged = insider_checkpoint(engine, CheckpointSigner(tmp_path / "intruder.pem"))
    report = store.verify(kept=[genuine, forged])
    assert (report.verdict, report.kept_checked) == (Verdict.unverified, 1)
    assert (6, True) in [(u.position, u.kept) for u in report.unverified]
    tampered = Checkpoint.model_validate(genuine.model_dump() | {"position": 5})
    report = store.verify(kept=[tampered])
    assert (report.verdict, report.first_bad_position) == (Verdict.tampered, 5)


def test_a_strangers_checkpoint_of_another_log_is_not_held_against_this_one(
    engine: sa.Engine, store: EventStore, tmp_path: Path
) -> None:
    """An auditor hands verify a checkpoint of some other log, signed by its own key: it
    matches nothing here, and since no trusted key signed it that says nothing about this
    database; a checkpoint of this log that does not match is tampering."""
    other = EventStore(
        make_engine(f"sqlite:///{tmp_path / 'other.db'}"),
        signer=CheckpointSigner(tmp_path / "other.pem"),
    )
    upgrade(str(other.engine.url))
    fill(other, 9)
    theirs = other.checkpoint()
    fill(store)
    ours = store.checkpoint()
    report = store.verify(kept=[theirs])
    assert (report.verdict, report.first_bad_position) == (Verdict.unverified, None)
    assert [(u.position, u.kept) for u in report.unverified] == [(theirs.position, True)]
    assert report.checked == ours.position and report.checkpoints_checked == 1

    tamper(store.engine, "DELETE FROM audit_checkpoints")
    report = store.verify(kept=[ours, theirs])
    assert report.verdict is Verdict.tampered, "the trusted kept checkpoint still accuses"
    assert "missing from the database" in (report.problem or "")
    other.engine.dispose()


def test_postgres_guards_checkpoints_and_the_head(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        store = EventStore(engine, signer=CheckpointSigner(tmp_path / "k.pem"))
        fill(store)
        store.checkpoint()
        for statement, refusal in (
            ("DELETE FROM audit_checkpoints", "append-only"),
            ("UPDATE audit_checkpoints SET position=1", "append-only"),
            ("TRUNCATE audit_checkpoints", "append-only"),
            ("UPDATE audit_head SET position=3", "only moves forward"),
            ("UPDATE audit_head SET hash=repeat('0', 64)", "only moves forward"),
            ("DELETE FROM audit_head", "only moves forward"),
            ("TRUNCATE audit_head", "only moves forward"),
        ):
            with (
                pytest.raises(sa.exc.DBAPIError, match=refusal) as info,
                engine.begin() as conn,
            ):
                conn.exec_driver_sql(statement)
            assert isinstance(info.value.orig, psycopg.errors.InsufficientPrivilege)
        fill(store, 2)  # appends still move the head forward
        report = store.verify()
        assert report.ok and report.head_position == 8 and report.checkpoints_checked == 1
    finally:
        engine.dispose()
