"""The stored Merkle tree against the naive RFC 9162 reference, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest
import sqlalchemy as sa

from orchestrator.audit import EventStore, InclusionProof, InvalidProof, MerkleTree, merkle, schema
from orchestrator.errors import Conflict, InvalidInput, NotFound
from tests.audit.test_merkle import naive_mth
from tests.audit.test_tamper import fill, rehash_from, tamper
from tests.audit.writers import extend_tree
from tests.support.events import new_event


def leaves_of(store: EventStore) -> list[bytes]:
    """Each event's leaf input, read straight from the rows: the 32 bytes of its chain hash."""
    query = sa.select(schema.events.c.hash).order_by(schema.events.c.position)
    with store.engine.connect() as conn:
        return [bytes.fromhex(h) for h in conn.execute(query).scalars()]


def node_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(schema.merkle_nodes)).scalar_one()
        )


def fill_batches(store: EventStore, total: int) -> None:
    done = 0
    while done < total:
        batch = min(7, total - done)
        store.append(f"inc-{done % 3}", [new_event(payload={"n": done + i}) for i in range(batch)])
        done += batch


def test_roots_and_inclusion_proofs_match_the_reference_at_every_size(
    store: EventStore,
) -> None:
    fill_batches(store, 23)
    leaves = leaves_of(store)
    tree = MerkleTree(store.engine, chunk=5)  # several chunks, one not full
    for size in range(len(leaves) + 1):
        assert tree.root(size) == naive_mth(leaves[:size]), size
    for size in (1, 2, 7, 8, 16, 17, 23):
        root = naive_mth(leaves[:size])
        for position in range(1, size + 1):
            proof = tree.inclusion_proof(position, size)
            assert proof.root == root
            assert proof.event_hash == leaves[position - 1].hex()
            merkle.verify_inclusion(position - 1, size, proof.leaf_hash, proof.path, root)
            proof.verify(trusted_root=root)


def test_consistency_proofs_verify_for_every_pair_of_sizes(store: EventStore) -> None:
    fill_batches(store, 13)
    leaves = leaves_of(store)
    roots = [naive_mth(leaves[:n]) for n in range(len(leaves) + 1)]
    for new in range(len(leaves) + 1):
        for old in range(new + 1):
            proof = store.consistency_proof(old, new)
            assert (proof.old_root, proof.new_root) == (roots[old], roots[new])
            proof.verify(trusted_old_root=roots[old], trusted_new_root=roots[new])
            if 0 < old < new:
                forged = proof.model_copy(update={"path": proof.path[:-1]})
                with pytest.raises(InvalidProof):
                    forged.verify()


def test_the_tree_grows_from_its_stored_size_only_when_asked(store: EventStore) -> None:
    fill_batches(store, 10)
    assert store.merkle.stored_size() == 0, "appending must not build the tree"
    store.merkle_root(6)
    assert store.merkle.stored_size() == 6
    assert node_count(store.engine) == 6 + 3 + 1  # leaves, pairs, one subtree of four
    store.merkle_root(4)  # below the stored size: reads only
    assert store.merkle.stored_size() == 6
    fill_batches(store, 7)
    assert store.merkle_root() == naive_mth(leaves_of(store))
    assert store.merkle.stored_size() == 17
    assert node_count(store.engine) == 17 + 8 + 4 + 2 + 1


def test_two_processes_extending_at_once_agree(db_url: str, store: EventStore) -> None:
    fill_batches(store, 300)
    expected = naive_mth(leaves_of(store)).hex()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(extend_tree, db_url, 300, chunk) for chunk in (16, 23)]
        assert [f.result() for f in futures] == [expected, expected]
    assert store.merkle.stored_size() == 300
    assert node_count(store.engine) == 2 * 300 - bin(300).count("1")
    for position in (1, 150, 300):
        store.merkle.inclusion_proof(position, 300).verify(bytes.fromhex(expected))


def test_bad_sizes_positions_and_ids_are_clear_errors(store: EventStore) -> None:
    fill_batches(store, 5)
    with pytest.raises(InvalidInput, match="beyond the log's head"):
        store.merkle_root(6)
    with pytest.raises(InvalidInput, match="never negative"):
        store.merkle_root(-1)
    with pytest.raises(InvalidInput, match="position 4 is beyond tree size 3"):
        store.merkle.inclusion_proof(4, 3)
    with pytest.raises(InvalidInput, match="not between 0 and new size 3"):
        store.consistency_proof(4, 3)
    with pytest.raises(NotFound, match="no audit event has id 'nope'"):
        store.inclusion_proof("nope")
    assert store.merkle_root(0) == merkle.EMPTY_ROOT


def test_proofs_default_to_the_latest_checkpoint(store: EventStore) -> None:
    fill_batches(store, 5)
    event_id = store.read_stream("inc-0")[0].id
    assert store.inclusion_proof(event_id).tree_size == 5  # no checkpoint: the head
    store.checkpoint()
    fill_batches(store, 4)
    assert store.inclusion_proof(event_id).tree_size == 5
    assert store.inclusion_proof(event_id, 9).tree_size == 9


def test_an_event_changed_after_a_proof_no_longer_matches_it(store: EventStore) -> None:
    fill(store)
    before = store.merkle.inclusion_proof(3, 6)
    trusted_root = before.root
    # A capable attacker rewrites event 3 and recomputes every chain hash after it.
    tamper(
        store.engine,
        "UPDATE audit_events SET payload = '{\"i\":99}' WHERE position = 3",
    )
    rehash_from(store.engine, 3)
    (row_hash,) = [e.hash for e in store.read_all() if e.position == 3]
    assert row_hash != before.event_hash, "the proof names the event as it was"
    with pytest.raises(Conflict, match="no longer matches the Merkle tree"):
        store.merkle.inclusion_proof(3, 6)
    # The altered event cannot be proved against the root signed before.
    altered = InclusionProof(
        event_id=before.event_id,
        position=3,
        leaf_index=2,
        tree_size=6,
        event_hash=row_hash,
        leaf_hash=merkle.leaf_hash(bytes.fromhex(row_hash)),
        path=before.path,
        root=trusted_root,
    )
    with pytest.raises(InvalidProof, match="another root"):
        altered.verify(trusted_root)
    # Nor does a tree rebuilt from the rewritten rows have the signed root.
    tamper(store.engine, "DELETE FROM audit_merkle_nodes")
    assert store.merkle_root(6) != trusted_root
