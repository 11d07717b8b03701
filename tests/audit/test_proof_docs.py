"""The worked example of docs/audit-ledger.md is true: its proofs verify, its hashes are what
the text says they are, and a changed byte of either fails."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from orchestrator.audit import (
    ConsistencyProof,
    InclusionProof,
    InvalidProof,
    decode_hash,
    parse_proof,
)
from tests.audit.test_merkle import naive_mth

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit-ledger.md"


def example() -> str:
    text = DOC.read_text()
    start = text.index("### Worked example")
    return text[start : text.index("\n### ", start + 1)]


def proofs() -> tuple[InclusionProof, ConsistencyProof]:
    blocks = re.findall(r"```json\n(.*?)```", example(), re.S)
    inclusion, consistency = (parse_proof(block) for block in blocks)
    assert isinstance(inclusion, InclusionProof)
    assert isinstance(consistency, ConsistencyProof)
    return inclusion, consistency


def test_the_example_tables_hashes_are_those_of_the_text() -> None:
    rows = re.findall(r"\| (\d) \| `([0-9a-f]{64})` \| `([A-Za-z0-9+/=]{44})` \|", example())
    assert [int(p) for p, _, _ in rows] == [1, 2, 3, 4, 5]
    for position, event_hash, leaf in rows:
        assert event_hash == hashlib.sha256(f"event {position}".encode()).hexdigest()
        assert decode_hash(leaf) == hashlib.sha256(b"\x00" + bytes.fromhex(event_hash)).digest()


def test_the_worked_examples_verify_against_the_reference_roots() -> None:
    leaves = [hashlib.sha256(f"event {i}".encode()).digest() for i in range(1, 6)]
    inclusion, consistency = proofs()
    inclusion.verify(naive_mth(leaves))
    consistency.verify(naive_mth(leaves[:3]), naive_mth(leaves))


def test_a_changed_example_fails() -> None:
    inclusion, consistency = proofs()
    with pytest.raises(InvalidProof):
        inclusion.model_copy(update={"position": 4, "leaf_index": 3}).verify()
    with pytest.raises(InvalidProof):
        consistency.model_copy(update={"old_size": 2}).verify()
    document = json.loads(inclusion.model_dump_json())
    document["event_hash"] = document["event_hash"][::-1]
    with pytest.raises(InvalidProof, match="leaf_hash is not the leaf hash"):
        parse_proof(json.dumps(document)).verify()
