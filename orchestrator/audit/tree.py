"""The ledger's Merkle tree, stored as the hashes of its perfect subtrees (``audit_merkle_nodes``).

The leaf of the event at position ``p`` is leaf ``p - 1``, and its input is the 32 bytes of the
event's chain hash: the chain already commits to every field, so a proof needs only that hash.
A root or proof on a tree of ``n`` events reads about 2·log2(n) rows by primary key, whatever
``n`` is. The table is extended from its stored size up to the size a root or proof asks for,
in chunks, each chunk's leaves and the subtrees they complete in one transaction, so:

- appends never wait for it (the append path does not touch it);
- what is stored is always a prefix: if leaf ``i`` is stored, so is every subtree that ends at or
  before it, and the stored size is the number of leaves;
- two processes extending at once compute the same values and insert-or-ignore them, in one
  global (level, idx) order so they cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa

from orchestrator.audit import merkle, schema
from orchestrator.audit.event_index import by_id
from orchestrator.audit.proofs import ConsistencyProof, InclusionProof
from orchestrator.db import run_on, upsert
from orchestrator.errors import Conflict, InvalidInput, NotFound

T = TypeVar("T")
EXTEND_CHUNK = 8192
"""Leaves per extending transaction: a bounded transaction, and progress that survives."""

_nodes = schema.merkle_nodes
_events = schema.events
STORED_SIZE = sa.select(sa.func.max(_nodes.c.idx)).where(_nodes.c.level == 0)
READ_HEAD = sa.select(schema.head.c.position).where(schema.head.c.id == 1)
READ_NODES = sa.select(_nodes.c.level, _nodes.c.idx, _nodes.c.hash).where(
    sa.tuple_(_nodes.c.level, _nodes.c.idx).in_(sa.bindparam("nodes", expanding=True))
)
INSERT_NODE_ARRAYS = sa.text(
    "INSERT INTO audit_merkle_nodes (level, idx, hash)"
    " SELECT * FROM unnest(CAST(:levels AS smallint[]), CAST(:idxs AS bigint[]),"
    " CAST(:hashes AS bytea[])) ON CONFLICT DO NOTHING"
)
_EVENT = sa.select(_events.c.position, _events.c.event_id, _events.c.hash)
EVENT_AT = _EVENT.where(_events.c.position == sa.bindparam("position"))
EVENT_BY_ID = by_id([_events.c.position, _events.c.event_id, _events.c.hash])
EVENT_HASHES = (
    sa.select(_events.c.position, _events.c.hash)
    .where(_events.c.position > sa.bindparam("after"), _events.c.position <= sa.bindparam("upto"))
    .order_by(_events.c.position)
)


def _event_hashes(conn: sa.Connection, *, after: int, upto: int) -> list[tuple[int, str]]:
    """(position, chain hash) of the events after `after` up to `upto`, in order."""
    rows = conn.execute(EVENT_HASHES, {"after": after, "upto": upto})
    return [(int(position), str(hash_)) for position, hash_ in rows]


class MerkleTree:
    """Roots and proofs of the audit log's Merkle tree at any size up to the head."""

    def __init__(self, engine: sa.Engine, chunk: int = EXTEND_CHUNK) -> None:
        self.engine = engine
        self.chunk = chunk

    # -- reading -------------------------------------------------------------------------------
    # Each read is one connection (a pool checkout costs a ping and a rollback round trip):
    # the head check, the event row and the subtrees, extending the tree first only if a
    # subtree it needs is not stored yet.

    def root(self, size: int) -> bytes:
        """The RFC 9162 root of the tree of the first `size` events (32 bytes)."""

        def attempt(conn: sa.Connection) -> bytes | None:
            self._check_size(conn, size)
            if size == 0:
                return merkle.EMPTY_ROOT
            nodes = self._fetch(conn, [(0, size)])
            return None if nodes is None else merkle.range_hash(0, size, nodes)

        return self._attempt(attempt, size)

    def inclusion_proof(self, position: int, size: int) -> InclusionProof:
        """Proof that the event at `position` is in the tree of the first `size` events.

        Refuses (Conflict) when the event's chain hash no longer matches the leaf stored for
        it: the row was changed after the tree was built, and `firebreak audit verify` says how.
        """
        found = (EVENT_AT, {"position": position}, f"no audit event at position {position}")
        return self._inclusion(found, size)

    def event_inclusion_proof(self, event_id: str, size: int, indexed: int) -> InclusionProof:
        """`inclusion_proof` of the event with id `event_id`, found through the lookup table,
        which holds at least the first `indexed` events (`event_index.by_id`)."""
        params = {"event_ids": [event_id], "indexed": indexed}
        found = (EVENT_BY_ID, params, f"no audit event has id {event_id!r}")
        return self._inclusion(found, size)

    def consistency_proof(self, old: int, new: int) -> ConsistencyProof:
        """Proof that the tree of the first `new` events extends that of the first `old`."""
        if not 0 <= old <= new:
            raise InvalidInput(f"old size {old} is not between 0 and new size {new}", "old")
        ranges = merkle.consistency_ranges(old, new)

        def attempt(conn: sa.Connection) -> ConsistencyProof | None:
            self._check_size(conn, new)
            nodes = self._fetch(conn, [r for r in [(0, old), (0, new), *ranges] if r[1] > r[0]])
            if nodes is None:
                return None
            return ConsistencyProof(
                old_size=old,
                new_size=new,
                path=[merkle.range_hash(start, end, nodes) for start, end in ranges],
                old_root=merkle.range_hash(0, old, nodes) if old else merkle.EMPTY_ROOT,
                new_root=merkle.range_hash(0, new, nodes) if new else merkle.EMPTY_ROOT,
            )

        return self._attempt(attempt, new)

    def _inclusion(
        self, found: tuple[sa.Executable, dict[str, Any], str], size: int
    ) -> InclusionProof:
        query, params, missing = found

        def attempt(conn: sa.Connection) -> InclusionProof | None:
            self._check_size(conn, size)
            row = conn.execute(query, params).one_or_none()
            if row is None:
                raise NotFound(missing)
            position, index = int(row.position), int(row.position) - 1
            if position > size:
                raise InvalidInput(f"position {position} is beyond tree size {size}", "position")
            ranges = merkle.inclusion_ranges(index, size)
            nodes = self._fetch(conn, [(0, size), (index, position), *ranges])
            if nodes is None:
                return None
            leaf = merkle.leaf_hash(bytes.fromhex(row.hash))
            if leaf != nodes[0, index]:
                raise Conflict(
                    f"the event at position {position} no longer matches the Merkle tree built"
                    " from it: the log was altered (run firebreak audit verify)"
                )
            return InclusionProof(
                event_id=row.event_id,
                position=position,
                leaf_index=index,
                tree_size=size,
                event_hash=row.hash,
                leaf_hash=leaf,
                path=[merkle.range_hash(start, end, nodes) for start, end in ranges],
                root=merkle.range_hash(0, size, nodes),
            )

        return self._attempt(attempt, size)

    def stored_size(self) -> int:
        """How many leaves the table holds (every subtree within them is stored too)."""
        last = self._run(lambda conn: conn.execute(STORED_SIZE).scalar())
        return 0 if last is None else int(last) + 1

    # -- extending -----------------------------------------------------------------------------

    def extend(self, size: int) -> int:
        """Store the tree up to at least `size` events; return the stored size.

        Reads the events' hashes after the stored size in chunks and writes each chunk's
        leaves and the subtrees they complete. Called by every root and proof, so nobody has
        to remember to; idempotent and safe to run from several processes at once.
        """
        stored = self.stored_size()
        if stored >= size:
            return stored
        # The perfect subtrees of the stored prefix, largest first: the compact range that
        # new leaves merge into.
        frontier_nodes = merkle.perfect_nodes(0, stored) if stored else []
        found = self._run(lambda conn: self._nodes(conn, frontier_nodes))
        frontier = [(level, idx, found[level, idx]) for level, idx in frontier_nodes]
        while stored < size:
            upto = min(size, stored + self.chunk)
            rows = self._run(partial(_event_hashes, after=stored, upto=upto))
            if [position for position, _ in rows] != list(range(stored + 1, upto + 1)):
                raise Conflict(
                    f"events {stored + 1} to {upto} are not all stored: the log has a gap"
                )
            new_nodes: list[tuple[int, int, bytes]] = []
            for position, event_hash in rows:
                node = (0, position - 1, merkle.leaf_hash(bytes.fromhex(event_hash)))
                new_nodes.append(node)
                while frontier and frontier[-1][0] == node[0]:
                    left = frontier.pop()
                    node = (node[0] + 1, left[1] >> 1, merkle.node_hash(left[2], node[2]))
                    new_nodes.append(node)
                frontier.append(node)
            new_nodes.sort()  # by (level, idx): one lock order for every writer
            self._insert(new_nodes)
            stored = upto
        return stored

    def _insert(self, rows: list[tuple[int, int, bytes]]) -> None:
        """Insert-or-ignore `rows` (level, idx, hash), in their order, in one transaction."""
        if self.engine.dialect.name == "postgresql":
            # One statement of three arrays: a third of the time of a many-row INSERT, which
            # is most of building the tree of a large log (docs/benchmarks.md).
            levels, idxs, hashes = (list(column) for column in zip(*rows, strict=True))
            arrays = {"levels": levels, "idxs": idxs, "hashes": hashes}
            self._run(lambda conn: conn.execute(INSERT_NODE_ARRAYS, arrays), write=True)
            return
        values = [{"level": level, "idx": idx, "hash": hash_} for level, idx, hash_ in rows]
        statement = upsert(self.engine, _nodes).on_conflict_do_nothing()
        self._run(lambda conn: conn.execute(statement, values), write=True)

    # -- helpers -------------------------------------------------------------------------------

    def _attempt(self, work: Callable[[sa.Connection], T | None], size: int) -> T:
        """`work` on one connection; when it finds a subtree missing (None), extend the tree
        to `size` and run it again."""
        result = self._run(work)
        if result is None:
            self.extend(size)
            result = self._run(work)
        if result is None:
            raise Conflict(f"the Merkle tree could not be extended to {size} events")
        return result

    def _fetch(
        self, conn: sa.Connection, ranges: Sequence[tuple[int, int]]
    ) -> dict[merkle.Node, bytes] | None:
        """The stored perfect subtrees that make up `ranges`; None if one is not stored."""
        wanted = sorted(
            {node for start, end in ranges for node in merkle.perfect_nodes(start, end)}
        )
        found = self._nodes(conn, wanted)
        return found if len(found) == len(wanted) else None

    def _nodes(self, conn: sa.Connection, nodes: Sequence[merkle.Node]) -> dict[merkle.Node, bytes]:
        if not nodes:
            return {}
        rows = conn.execute(READ_NODES, {"nodes": list(nodes)})
        return {(int(r.level), int(r.idx)): bytes(r.hash) for r in rows}

    def _check_size(self, conn: sa.Connection, size: int) -> None:
        if size < 0:
            raise InvalidInput("a tree size is never negative", "tree_size")
        head = int(conn.execute(READ_HEAD).scalar_one())
        if size > head:
            raise InvalidInput(
                f"tree size {size} is beyond the log's head ({head} events)", "tree_size"
            )

    def _run(self, work: Callable[[sa.Connection], T], *, write: bool = False) -> T:
        return run_on(self.engine, work, "audit Merkle tree", write=write)
