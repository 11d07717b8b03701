"""RFC 9162 Merkle hashing and proofs against published vectors and a naive reference.

The vectors are data published with independent implementations, copied as they stand:
- leaf inputs, every perfect subtree's hash and the roots of sizes 0..8: transparency-dev/merkle,
  testonly/constants.go (the 8 leaves Certificate Transparency has tested with since RFC 6962);
- the inclusion and consistency proofs: transparency-dev/merkle, proof/verify_test.go
  (``inclusionProofs``, ``consistencyProofs``; leaf numbers there are 1-based).
The reference `naive_mth` below is RFC 9162 §2.1.1's recursive definition, written directly.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.audit import merkle
from orchestrator.audit.merkle import InvalidProof

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (1-based leaf, tree size, proof)
INCLUSION_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (old size, new size, proof)
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def naive_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, literally: the reference every other computation is checked against."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:])).digest()


def naive_subtree(leaves: list[bytes]) -> merkle.SubtreeHash:
    return lambda start, end: naive_mth(leaves[start:end])


def stored_subtree(leaves: list[bytes]) -> merkle.SubtreeHash:
    """Ranges from perfect subtrees only, the way the stored tree answers."""
    nodes: dict[merkle.Node, bytes] = {}
    for level in range(len(leaves).bit_length()):
        for index in range(len(leaves) >> level):
            nodes[level, index] = naive_mth(leaves[index << level : (index + 1) << level])
    return lambda start, end: merkle.range_hash(start, end, nodes)


def unhex(hashes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hashes]


# -- published vectors ---------------------------------------------------------------------------


def test_leaf_and_node_hashes_match_the_published_vectors() -> None:
    for index, leaf in enumerate(LEAVES):
        assert merkle.leaf_hash(leaf).hex() == NODE_HASHES[0][index]
    for level in range(1, len(NODE_HASHES)):
        for index, expected in enumerate(NODE_HASHES[level]):
            below = NODE_HASHES[level - 1]
            left, right = bytes.fromhex(below[2 * index]), bytes.fromhex(below[2 * index + 1])
            assert merkle.node_hash(left, right).hex() == expected


@pytest.mark.parametrize("size", range(9))
def test_roots_of_sizes_0_to_8_match_the_published_vectors(size: int) -> None:
    assert merkle.root_hash(size, stored_subtree(LEAVES)).hex() == ROOTS[size]
    assert naive_mth(LEAVES[:size]).hex() == ROOTS[size]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert merkle.EMPTY_ROOT.hex() == ROOTS[0]


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION_PROOFS)
def test_inclusion_proofs_match_and_verify_the_published_vectors(
    leaf: int, size: int, proof: list[str]
) -> None:
    path = merkle.inclusion_proof(leaf - 1, size, stored_subtree(LEAVES))
    assert [p.hex() for p in path] == proof
    root = bytes.fromhex(ROOTS[size])
    merkle.verify_inclusion(leaf - 1, size, merkle.leaf_hash(LEAVES[leaf - 1]), path, root)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_PROOFS)
def test_consistency_proofs_match_and_verify_the_published_vectors(
    old: int, new: int, proof: list[str]
) -> None:
    path = merkle.consistency_proof(old, new, stored_subtree(LEAVES))
    assert [p.hex() for p in path] == proof
    old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    merkle.verify_consistency(old, new, old_root, new_root, unhex(proof))


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION_PROOFS[1:])
def test_forged_inclusion_proofs_of_the_vectors_fail(
    leaf: int, size: int, proof: list[str]
) -> None:
    index, path, root = leaf - 1, unhex(proof), bytes.fromhex(ROOTS[size])
    leaf_hash = merkle.leaf_hash(LEAVES[index])
    some_hash = bytes.fromhex("abacaba0" + "0" * 48 + "00123456")
    forgeries = [
        (index - 1, size, leaf_hash, path, root),
        (index + 1, size, leaf_hash, path, root),
        (index ^ 2, size, leaf_hash, path, root),
        (index, size * 2, leaf_hash, path, root),
        (index, size // 2, leaf_hash, path, root),
        (index, size, merkle.leaf_hash(b"WrongLeaf"), path, root),
        (index, size, leaf_hash, path, merkle.EMPTY_ROOT),
        (index, size, leaf_hash, path, some_hash),
        (index, size, leaf_hash, [*path, root], root),
        (index, size, leaf_hash, [root, *path], root),
        (index, size, leaf_hash, [*path, b""], root),
        (index, size, leaf_hash, path[:-1], root),
        (index, size, leaf_hash, [path[0], some_hash, *path[1:]], root),
    ]
    for i in range(len(path)):
        flipped = bytearray(path[i])
        flipped[0] ^= 8
        forgeries.append(
            (index, size, leaf_hash, [*path[:i], bytes(flipped), *path[i + 1 :]], root)
        )
    for forged in forgeries:
        with pytest.raises(InvalidProof):
            merkle.verify_inclusion(*forged)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_PROOFS[1:])
def test_forged_consistency_proofs_of_the_vectors_fail(
    old: int, new: int, proof: list[str]
) -> None:
    path, r1, r2 = unhex(proof), bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    wrong = hashlib.sha256(b"WrongRoot").digest()
    forgeries = [
        (old - 1, new, r1, r2, path),
        (old + 1, new, r1, r2, path),
        (old ^ 2, new, r1, r2, path),
        (old, new * 2, r1, r2, path),
        (old, new // 2, r1, r2, path),
        (old, new, wrong, r2, path),
        (old, new, r1, wrong, path),
        (old, new, r2, r1, path),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*path, r1]),
        (old, new, r1, r2, [*path, r2]),
        (old, new, r1, r2, [r1, *path]),
        (old, new, r1, r2, [r2, *path]),
        (old, new, r1, r2, [path[0], *path]),
        (old, new, r1, r2, path[:-1]),
        (old, new, r1, r2, [*path, b""]),
    ]
    for i in range(len(path)):
        flipped = bytearray(path[i])
        flipped[0] ^= 16
        forgeries.append((old, new, r1, r2, [*path[:i], bytes(flipped), *path[i + 1 :]]))
    for forged in forgeries:
        with pytest.raises(InvalidProof):
            merkle.verify_consistency(*forged)


def test_trivial_consistency_cases() -> None:
    root = bytes.fromhex(ROOTS[3])
    merkle.verify_consistency(3, 3, root, root, [])
    merkle.verify_consistency(0, 3, merkle.EMPTY_ROOT, root, [])
    with pytest.raises(InvalidProof, match="old root"):
        merkle.verify_consistency(3, 3, bytes.fromhex(ROOTS[2]), root, [])
    with pytest.raises(InvalidProof, match="must be empty"):
        merkle.verify_consistency(3, 3, root, root, [root])
    with pytest.raises(InvalidProof, match="not between"):
        merkle.verify_consistency(4, 3, root, root, [root])


# -- property tests against the naive reference ------------------------------------------------

# Distinct leaves (two equal leaves have equal hashes, so swapping them proves nothing wrong),
# of every size up to 70 (3 to 7 levels, every shape of right edge) and random content.
leaf_lists = st.builds(
    lambda size, salt: [salt + i.to_bytes(2, "big") for i in range(size)],
    st.integers(1, 70),
    st.binary(max_size=20),
)


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists)
def test_every_leaf_of_random_trees_proves_and_verifies(leaves: list[bytes]) -> None:
    size = len(leaves)
    root = naive_mth(leaves)
    subtree = stored_subtree(leaves)
    assert merkle.root_hash(size, subtree) == root
    for index in range(size):
        path = merkle.inclusion_proof(index, size, subtree)
        assert path == merkle.inclusion_proof(index, size, naive_subtree(leaves))
        leaf = merkle.leaf_hash(leaves[index])
        merkle.verify_inclusion(index, size, leaf, path, root)
        with pytest.raises(InvalidProof):
            merkle.verify_inclusion(index, size, merkle.leaf_hash(leaves[index] + b"x"), path, root)
        if size > 1:
            with pytest.raises(InvalidProof):
                merkle.verify_inclusion((index + 1) % size, size, leaf, path, root)
            with pytest.raises(InvalidProof):
                merkle.verify_inclusion(index, size, leaf, path[:-1], root)
            with pytest.raises(InvalidProof):
                merkle.verify_inclusion(index, size, leaf, [*path, root], root)
        # The size is bound by the signed checkpoint, not by the path: a path verifies for any
        # size of the same shape. Every size of another shape must fail.
        for wrong_size in {size - 1, size + 1, 2 * size}:
            if wrong_size > index and len(merkle.inclusion_ranges(index, wrong_size)) != len(path):
                with pytest.raises(InvalidProof):
                    merkle.verify_inclusion(index, wrong_size, leaf, path, root)


@settings(max_examples=40, deadline=None)
@given(leaves=leaf_lists)
def test_every_pair_of_sizes_proves_consistency(leaves: list[bytes]) -> None:
    subtree = stored_subtree(leaves)
    roots = [naive_mth(leaves[:n]) for n in range(len(leaves) + 1)]
    for new in range(len(leaves) + 1):
        for old in range(new + 1):
            path = merkle.consistency_proof(old, new, subtree)
            assert path == merkle.consistency_proof(old, new, naive_subtree(leaves))
            merkle.verify_consistency(old, new, roots[old], roots[new], path)
            if 0 < old < new:
                with pytest.raises(InvalidProof):
                    merkle.verify_consistency(old, new, roots[old], roots[new], path[:-1])
                with pytest.raises(InvalidProof):
                    merkle.verify_consistency(old, new, roots[old], roots[new], [*path, roots[0]])
                with pytest.raises(InvalidProof):
                    merkle.verify_consistency(old, new, roots[new], roots[old], path)
                if new + 1 < len(roots):
                    with pytest.raises(InvalidProof):
                        merkle.verify_consistency(old, new + 1, roots[old], roots[new + 1], path)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), leaves=leaf_lists)
def test_any_flipped_byte_fails(data: st.DataObject, leaves: list[bytes]) -> None:
    size = len(leaves)
    subtree = stored_subtree(leaves)
    index = data.draw(st.integers(0, size - 1))
    path = merkle.inclusion_proof(index, size, subtree)
    root = naive_mth(leaves)
    leaf = merkle.leaf_hash(leaves[index])
    # Flip one byte anywhere in the leaf, the path or the root.
    parts = [leaf, *path, root]
    which = data.draw(st.integers(0, len(parts) - 1))
    byte = data.draw(st.integers(0, merkle.HASH_SIZE - 1))
    bit = data.draw(st.integers(0, 7))
    flipped = bytearray(parts[which])
    flipped[byte] ^= 1 << bit
    parts[which] = bytes(flipped)
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(index, size, parts[0], parts[1:-1], parts[-1])
