"""RFC 9162 §2.1 Merkle tree hashing, proofs and their verification: pure functions, no I/O.

The audit ledger's events are the leaves of one Merkle tree, so a signed root commits to every
event up to a size, an inclusion proof shows one event is in it with about log2(size) hashes,
and a consistency proof shows a later root extends an earlier one (nothing rewritten). The
hashing is RFC 9162's (the same as RFC 6962's), so any Certificate Transparency verifier checks
these proofs:

- leaf hash ``SHA-256(0x00 || leaf input)``; node hash ``SHA-256(0x01 || left || right)``;
- the root of ``n`` leaves splits them at ``k``, the largest power of two below ``n``:
  ``MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))``, the root of no leaves is ``SHA-256("")``.

Generation works on *ranges* of leaves ``[start, end)``: `inclusion_ranges` and
`consistency_ranges` say which subtree roots a proof is made of (RFC 9162 §2.1.3.1 and
§2.1.4.1), and `perfect_nodes` splits any such range into the stored perfect subtrees
(``(level, index)`` = the ``2**level`` leaves from ``index * 2**level``), so a store fetches
just those rows and `fold` combines them. The verifiers are RFC 9162 §2.1.3.2 and §2.1.4.2,
written to need nothing but the proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

Range = tuple[int, int]
"""Leaves ``[start, end)`` by leaf index (0-based)."""
Node = tuple[int, int]
"""A perfect subtree ``(level, index)``: leaves ``[index << level, (index + 1) << level)``."""
SubtreeHash = Callable[[int, int], bytes]
"""The root hash of leaves ``[start, end)``."""


class InvalidProof(ValueError):
    """A proof does not verify; the message says which check failed."""


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 9162 leaf hash of one leaf input."""
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash of two child hashes."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly below `n` (n >= 2): where MTH splits n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose roots make up the inclusion proof of leaf `index` in a tree of
    `size` leaves, in proof order (nearest the leaf first): RFC 9162 §2.1.3.1 PATH."""
    _check_index(index, size)
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The leaf ranges whose roots make up the consistency proof from a tree of `old` leaves
    to one of `new` leaves, in proof order: RFC 9162 §2.1.4.1 PROOF."""
    _check_sizes(old, new)
    if old == 0 or old == new:
        return []
    ranges: list[Range] = []
    start, end, whole = 0, new, True
    while True:
        m = old - start
        if m == end - start:
            if not whole:
                ranges.append((start, end))
            break
        k = split_point(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            whole = False
    ranges.reverse()
    return ranges


def perfect_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees, left to right, whose fold (`fold`) is MTH of leaves [start, end).

    Every range MTH's recursion reaches starts at a multiple of the power of two at or above
    its length, so its leaves split into perfect subtrees by the binary digits of the length,
    largest first; `fold` combines them right to left as MTH does.
    """
    if not 0 <= start < end:
        raise ValueError(f"not a non-empty leaf range: [{start}, {end})")
    nodes: list[Node] = []
    position = start
    for level in range((end - start).bit_length() - 1, -1, -1):
        if (end - start) >> level & 1:
            if position % (1 << level):
                raise ValueError(f"[{start}, {end}) is not a range of the tree's recursion")
            nodes.append((level, position >> level))
            position += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its perfect subtrees' hashes (as `perfect_nodes` lists them)."""
    if not hashes:
        raise ValueError("no subtree hashes to fold")
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def range_hash(start: int, end: int, nodes: Mapping[Node, bytes]) -> bytes:
    """MTH of leaves [start, end) from a mapping that holds its `perfect_nodes`."""
    return fold([nodes[node] for node in perfect_nodes(start, end)])


def root_hash(size: int, subtree: SubtreeHash) -> bytes:
    """MTH of the first `size` leaves."""
    if size < 0:
        raise ValueError("a tree size is never negative")
    return EMPTY_ROOT if size == 0 else subtree(0, size)


def inclusion_proof(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """The inclusion proof (audit path) of leaf `index` in the tree of `size` leaves."""
    return [subtree(start, end) for start, end in inclusion_ranges(index, size)]


def consistency_proof(old: int, new: int, subtree: SubtreeHash) -> list[bytes]:
    """The consistency proof from the tree of `old` leaves to the tree of `new` leaves."""
    return [subtree(start, end) for start, end in consistency_ranges(old, new)]


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to from leaf hash `leaf`: RFC 9162 §2.1.3.2.

    Raises InvalidProof when the proof cannot belong to leaf `index` of `size` leaves (wrong
    length, malformed hashes).
    """
    if not 0 <= index < size:
        raise InvalidProof(f"leaf index {index} is not below tree size {size}")
    _check_hashes([leaf, *path])
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise InvalidProof("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("the proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf hash `leaf` is leaf `index` of the tree of `size` leaves whose root is
    `root`; raise InvalidProof saying why not."""
    _check_hashes([root])
    if root_from_inclusion_proof(index, size, leaf, path) != root:
        raise InvalidProof("the proof leads to another root")


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> None:
    """Check that the tree of `new` leaves with root `new_root` extends the tree of `old`
    leaves with root `old_root`: RFC 9162 §2.1.4.2 (plus the trivial cases it leaves out:
    equal sizes need equal roots and an empty proof, the empty tree needs an empty proof).
    Raises InvalidProof saying why not."""
    if not 0 <= old <= new:
        raise InvalidProof(f"old size {old} is not between 0 and new size {new}")
    _check_hashes([old_root, new_root, *path])
    if old == 0 or old == new:
        if path:
            raise InvalidProof(f"a proof from size {old} to {new} must be empty")
        expected = EMPTY_ROOT if old == 0 else new_root
        if old_root != expected:
            raise InvalidProof("the old root does not match")
        return
    if not path:
        raise InvalidProof("the proof is empty")
    path = list(path)
    if old & (old - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("the proof is longer than the trees are deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("the proof is shorter than the trees are deep")
    if fr != old_root:
        raise InvalidProof("the proof does not lead to the old root")
    if sr != new_root:
        raise InvalidProof("the proof does not lead to the new root")


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not below tree size {size}")


def _check_sizes(old: int, new: int) -> None:
    if not 0 <= old <= new:
        raise ValueError(f"old size {old} is not between 0 and new size {new}")


def _check_hashes(hashes: Sequence[bytes]) -> None:
    for value in hashes:
        if len(value) != HASH_SIZE:
            raise InvalidProof(f"a hash of {len(value)} bytes where SHA-256 gives {HASH_SIZE}")
