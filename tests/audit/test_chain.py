"""`encoded_hash` writes the canonical encoding itself: it must stay `canonical_json`'s bytes."""

from __future__ import annotations

import hashlib
import random

import pytest

from orchestrator.audit.chain import EVENT_TAG, canonical_json, encoded_hash
from tests.audit.test_append_function import TRICKY


def _reference(values: list[object]) -> str:
    return hashlib.sha256(canonical_json([EVENT_TAG, *values]).encode()).hexdigest()


@pytest.mark.parametrize("text", TRICKY)
def test_strings_are_written_as_canonical_json_writes_them(text: str) -> None:
    values: list[object] = [1, text, 2, text * 3, None, f'{{"k":"{text}"}}', "0" * 64]
    assert encoded_hash(values) == _reference(values)


def test_every_kind_of_value_hashes_as_canonical_json_does() -> None:
    rng = random.Random(18)
    alphabet = [chr(c) for c in range(0, 0x80)] + ["é", "中", "😀", "\u2028", "\ufeff"]
    odd: list[object] = [True, False, 1.5, -0.0, [1, "x", None], {"b": 1, "a": [2]}, 2**70, -3]
    for _ in range(500):
        values: list[object] = [
            "".join(rng.choices(alphabet, k=rng.randrange(12))) for _ in range(rng.randrange(14))
        ]
        values.insert(rng.randrange(len(values) + 1), rng.choice(odd))
        values.insert(rng.randrange(len(values) + 1), rng.randrange(-(2**40), 2**40))
        assert encoded_hash(values) == _reference(values), values
