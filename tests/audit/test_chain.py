"""`encoded_hash` writes the canonical encoding itself: it must stay `canonical_json`'s bytes,
and the split encoding PostgreSQL's append assembles (`event_fields_text` within the parts only
the head lock knows) must be that same text."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.audit.chain import (
    EVENT_TAG,
    canonical_json,
    encoded_hash,
    event_fields_text,
    event_hash,
    timestamp,
)
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


@pytest.mark.parametrize("text", TRICKY)
def test_the_hash_is_the_server_assembly_around_the_event_fields_text(text: str) -> None:
    """What migrations/versions/0017 concatenates, written here independently of the code."""
    row = {
        "position": 2**40 + 3,
        "stream_id": f"stream {text}",
        "version": 17,
        "event_id": text or "id",
        "type": text,
        "actor_id": text,
        "actor_role": text[:50],
        "occurred_at": datetime(1, 1, 1, tzinfo=UTC) + timedelta(microseconds=len(text)),
        "recorded_at": datetime(2026, 12, 1, 9, 30, 0, 7, tzinfo=UTC),
        "payload": canonical_json({text: [text, None, 1.5]}),
        "encrypted_fields": canonical_json([text]),
        "key_id": text or None,
        "prev_hash": "ab" * 32,
    }
    stream_json = json.dumps(row["stream_id"], ensure_ascii=False)
    assembled = (
        f'["{EVENT_TAG}",{row["position"]},{stream_json},{row["version"]},'
        f'{event_fields_text(row)},"{row["prev_hash"]}"]'
    )
    assert hashlib.sha256(assembled.encode()).hexdigest() == event_hash(**row)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000000Z"),
        (datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=UTC), "0999-12-31T23:59:59.000005Z"),
        (datetime(2026, 11, 29, 10, 10, tzinfo=UTC), "2026-11-29T10:10:00.000000Z"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "9999-12-31T23:59:59.999999Z"),
        (datetime(2026, 6, 1, 12, 0), "2026-06-01T12:00:00.000000Z"),  # naive: taken as UTC
    ],
)
def test_timestamps_always_have_four_year_digits(moment: datetime, text: str) -> None:
    assert timestamp(moment) == text
