"""Checkpoints as witnesses keep them: C2SP notes published outside the database, handed back
to `verify`. Each attack an insider with owner rights can make (past PostgreSQL's triggers) is
caught and named with its position: checkpoint rows deleted, the head rewritten with a
re-hashed history, the tail cut after the last checkpoint still in the database but before a
witnessed one. Plus what key rotation must keep: old checkpoints verify under their own key,
and the report says which key signed which."""

from __future__ import annotations

import base64
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from activities.witnesses import DirectoryWitness
from orchestrator.audit import (
    Checkpoint,
    CheckpointSigner,
    EventStore,
    Verdict,
    VerifierKey,
    checkpoint_from_note,
)
from orchestrator.audit.chain import checkpoint_message
from orchestrator.audit.notes import parse_note
from orchestrator.audit.signing import fingerprint
from orchestrator.domain import Actor
from orchestrator.errors import CryptoError
from tests.audit.test_kept_checkpoints import cut_tail_and_cover_it_up
from tests.audit.test_notes import recursive_root
from tests.audit.test_tamper import fill, insider_checkpoint, rehash_from, tamper

OPERATOR = Actor(id="firebreak/cli/ops", role="system")


async def witnessed(store: EventStore, directory: Path) -> Checkpoint:
    """Checkpoint and publish to a witness directory; return what the witness holds."""
    point = store.checkpoint()
    assert point.note is not None
    await DirectoryWitness(directory).publish(point.position, point.note)
    return checkpoint_from_note((directory / "checkpoint").read_text())


def test_a_checkpoint_is_a_c2sp_note_over_the_merkle_root(store: EventStore) -> None:
    fill(store, 3)
    point = store.checkpoint()
    assert point.note is not None
    lines = point.note.split("\n")
    assert lines[0] == store.origin() and lines[0].startswith("firebreak.invalid/audit/")
    assert lines[1] == "3"
    events = list(store.read_all())
    root = recursive_root([bytes.fromhex(e.hash) for e in events])
    assert base64.b64decode(lines[2]) == root == bytes.fromhex(point.root_hash or "")
    assert lines[3] == f"firebreak-chain {events[-1].hash}"
    assert lines[4].startswith("firebreak-time ") and lines[5] == ""
    assert lines[6].startswith(f"— {store.origin()} ")
    assert store.checkpoints(1) == [point]
    assert store.checkpoint_if_moved() is None, "an unmoved head is not checkpointed again"
    fill(store, 1)
    assert (store.checkpoint_if_moved() or point).position == 4


async def test_deleted_checkpoint_rows_are_named(store: EventStore, tmp_path: Path) -> None:
    fill(store)
    await witnessed(store, tmp_path / "w")
    fill(store, 2)
    kept = await witnessed(store, tmp_path / "w")
    tamper(store.engine, "DELETE FROM audit_checkpoints WHERE position = 8")
    assert store.verify().ok, "alone, the database shows nothing"
    report = store.verify(kept=[kept])
    assert (report.ok, report.first_bad_position) == (False, 8)
    assert "kept checkpoint at position 8" in (report.problem or "")
    assert "missing from the database: checkpoints were deleted" in (report.problem or "")


async def test_a_rewritten_head_is_named(store: EventStore, tmp_path: Path) -> None:
    fill(store)
    kept = await witnessed(store, tmp_path / "w")
    tamper(
        store.engine,
        """UPDATE audit_events SET payload='{"i":1,"note":"nothing"}' WHERE position=2""",
        "DELETE FROM audit_checkpoints",
    )
    rehash_from(store.engine, 2)  # every later hash and the head row recomputed
    assert store.verify().ok
    report = store.verify(kept=[kept])
    assert (report.ok, report.first_bad_position) == (False, 6)
    assert "rewritten at or before position 6" in (report.problem or "")


async def test_a_tail_cut_after_the_last_local_checkpoint_before_a_witnessed_one(
    store: EventStore, tmp_path: Path
) -> None:
    fill(store)
    store.checkpoint()  # at 6: stays in the database
    fill(store, 4)
    kept = await witnessed(store, tmp_path / "w")  # at 10: the witness has it
    with store.engine.connect() as conn:
        kept_hash = conn.execute(
            sa.text("SELECT hash FROM audit_events WHERE position=8")
        ).scalar_one()
    tamper(
        store.engine,
        "DELETE FROM audit_events WHERE position > 8",
        f"UPDATE audit_head SET position=8, hash='{kept_hash}'",
        "DELETE FROM audit_checkpoints WHERE position = 10",
    )
    alone = store.verify()
    assert alone.ok and alone.checkpoints_checked == 1, "the checkpoint at 6 still holds"
    report = store.verify(kept=[kept])
    assert (report.ok, report.first_bad_position) == (False, 9)
    assert "kept checkpoint at position 10" in (report.problem or "")
    assert "beyond the head at 8: events were removed" in (report.problem or "")


async def test_a_witnessed_note_catches_a_cover_up_that_leaves_no_trace_inside(
    store: EventStore, tmp_path: Path
) -> None:
    fill(store)
    kept = await witnessed(store, tmp_path / "w")
    cut_tail_and_cover_it_up(store, keep=3)
    assert store.verify().ok
    report = store.verify(kept=[kept])
    assert (report.ok, report.first_bad_position) == (False, 4)


def test_a_forged_or_edited_note_is_refused(
    engine: sa.Engine, store: EventStore, tmp_path: Path
) -> None:
    fill(store)
    genuine = store.checkpoint()
    assert genuine.note is not None
    intruder = insider_checkpoint(engine, CheckpointSigner(tmp_path / "intruder.pem"))
    forged = checkpoint_from_note(intruder.note or "")
    report = store.verify(kept=[forged])
    assert report.verdict is Verdict.unverified, "another key's note anchors nothing"
    assert [(u.position, u.kept) for u in report.unverified] == [(6, True), (6, False)]
    edited = genuine.note.replace("\n6\n", "\n5\n", 1)
    report = store.verify(kept=[checkpoint_from_note(edited)])
    assert (report.verdict, report.first_bad_position) == (Verdict.tampered, 5)
    assert "a signature by the trusted key" in (report.problem or "")
    assert "does not verify: it was forged or edited" in (report.problem or "")
    relabelled = Checkpoint.model_validate(genuine.model_dump() | {"position": 5})
    report = store.verify(kept=[relabelled])
    assert report.verdict is Verdict.tampered
    assert "its position differs from the note it was signed as" in (report.problem or "")


def test_a_process_with_a_key_of_its_own_or_a_retired_key_refuses_to_sign(
    engine: sa.Engine, store: EventStore, signer: CheckpointSigner, tmp_path: Path
) -> None:
    """A replica started without the shared key file would make a key of its own, and one on
    another host keeps the key a rotation retired: either would sign checkpoints that verify
    nowhere else. Both refuse, naming the active key, and write nothing."""
    fill(store, 2)
    store.checkpoint()
    active = store.signing_keys()
    stray = EventStore(engine, signer=CheckpointSigner(tmp_path / "replica" / "k.pem"))
    with pytest.raises(CryptoError) as refused:
        stray.checkpoint()
    message = refused.value.detail
    assert f"is not the ledger's active key {active[0].name}+{active[0].key_hash}" in message
    assert "FIREBREAK_SIGNING_KEY_FILE" in message
    assert store.signing_keys() == active and len(store.checkpoints()) == 1

    copy = tmp_path / "other-host" / "k.pem"
    copy.parent.mkdir()
    shutil.copy(signer.path, copy)
    other_host = EventStore(engine, signer=CheckpointSigner(copy))
    assert other_host.checkpoint().position == 2, "the same key on another host signs"
    added = store.rotate_signing_key(OPERATOR)
    with pytest.raises(CryptoError) as retired:
        other_host.checkpoint()
    assert "was retired at" in retired.value.detail
    assert f"the active key is {added.name}+{added.key_hash}" in retired.value.detail
    shutil.copy(signer.path, copy)  # the operator hands it the new key file
    assert other_host.checkpoint().position == store.head()[0]
    assert store.verify().ok


def test_rotation_keeps_old_checkpoints_verifying_and_names_each_key(
    engine: sa.Engine, store: EventStore, signer: CheckpointSigner
) -> None:
    fill(store, 2)
    first = store.checkpoint()
    old = VerifierKey(store.origin(), signer.public_key())
    worker = EventStore(engine, signer=CheckpointSigner(signer.path))  # another process
    worker.checkpoint()
    added = store.rotate_signing_key(OPERATOR)
    fill(store, 2)
    latest = worker.checkpoint()  # the other process noticed the new key file
    assert parse_note(latest.note or "").signatures[0].hint == int(added.key_hash, 16)
    assert parse_note(first.note or "").signatures[0].hint == old.hint

    report = store.verify()  # this host's key files: the active and the retired one
    assert report.ok, report.problem
    assert {(u.key, u.checkpoints) for u in report.keys} == {
        (f"{old.name}+{old.hint:08x}", 2),
        (f"{added.name}+{added.key_hash}", 1),
    }
    new = VerifierKey.parse(added.verifier_key)
    only_old = store.verify([old])
    assert (only_old.verdict, only_old.first_bad_position) == (Verdict.unverified, None)
    assert [(u.position, u.signed_by) for u in only_old.unverified] == [
        (latest.position, [f"{added.name}+{added.key_hash}"])
    ]
    assert store.verify([old, new]).ok
    assert store.verify([old.key, new.key]).ok, "bare public keys (PEM) work as well"

    listed = store.signing_keys()
    assert [k.verifier_key for k in listed] == [old.text(), added.verifier_key]
    assert listed[0].retired_at is not None and listed[1].retired_at is None
    rotated = store.read_stream("audit-keys")
    assert [e.type for e in rotated] == ["CheckpointKeyRotated"]
    assert rotated[0].payload == {"verifier_key": new.text(), "retired": [old.text()]}
    assert rotated[0].actor == OPERATOR


def test_a_pre_note_checkpoint_keeps_verifying(store: EventStore, signer: CheckpointSigner) -> None:
    """Checkpoints made before notes (JSON signature over chain.checkpoint_message) stay valid."""
    fill(store, 3)
    position, head_hash = store.head()
    made = datetime.now(UTC)
    signature = signer.sign(checkpoint_message(position, head_hash, made)).hex()
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit_checkpoints (position, head_hash, created_at,"
                " key_fingerprint, signature) VALUES (:p, :h, :c, :f, :s)"
            ),
            {
                "p": position,
                "h": head_hash,
                "c": made,
                "f": fingerprint(signer.public_key()),
                "s": signature,
            },
        )
    store.checkpoint()
    report = store.verify()
    assert report.ok, report.problem
    assert sorted(u.key.split(":")[0].split("+")[0] for u in report.keys) == sorted(
        ["sha256", store.origin()]
    )


@pytest.mark.parametrize("origin", ["example.com/ledger"])
def test_the_origin_is_configurable(engine: sa.Engine, tmp_path: Path, origin: str) -> None:
    store = EventStore(engine, signer=CheckpointSigner(tmp_path / "k.pem"), origin=origin)
    fill(store, 1)
    note = store.checkpoint().note or ""
    assert note.startswith(f"{origin}\n1\n") and f"\n— {origin} " in note
    assert store.signing_keys()[0].name == origin
