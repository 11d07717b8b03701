"""How the audit hash is computed: the chain's canonical encoding (a change = a new version).

Every stored event commits to its predecessor's hash and to its own fields exactly as stored
(sensitive fields as ciphertext), so anyone holding the rows can re-check the chain without
keys. An event's hash is::

    lowercase hex SHA-256 of the UTF-8 bytes of
    canonical_json([EVENT_TAG, *the values of HASHED_FIELDS in that order])

- `HASHED_FIELDS` is the one list of what is hashed and in which order: every column of
  ``audit_events`` but ``hash`` itself, ending with ``prev_hash`` (the hash of the event at
  position - 1; `GENESIS_HASH` for position 1). The store hashes with it on append
  (`event_hash`) and `verify` selects these columns in this order to re-check (`encoded_hash`).
- The `TIMESTAMP_FIELDS` are hashed as text in `TIMESTAMP_FORMAT`, the only timestamp form that
  is hashed: UTC, four year digits, always six fraction digits, ``Z``
  (``2026-11-29T10:10:00.000000Z``).
  `verify` has the database render the stored columns in this same form.
- ``payload`` and ``encrypted_fields`` are hashed as the exact canonical JSON text stored in
  their columns, so verification never depends on how a database re-serialises JSON;
  ``key_id`` is null when nothing is sealed.
- `canonical_json`: object keys sorted, no whitespace, UTF-8 rather than ``\\u`` escapes, and
  NaN refused.

A signed checkpoint covers ``canonical_json([CHECKPOINT_TAG, position, head_hash,
created_at])`` (`checkpoint_message`). docs/audit-ledger.md states the same for auditors who
re-check the log with their own tools.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from orchestrator.timeutil import as_utc

GENESIS_HASH = "0" * 64
EVENT_TAG = "firebreak.audit.event.v1"
CHECKPOINT_TAG = "firebreak.audit.checkpoint.v1"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

HASHED_FIELDS = (
    "position",
    "stream_id",
    "version",
    "event_id",
    "type",
    "actor_id",
    "actor_role",
    "occurred_at",
    "recorded_at",
    "payload",
    "encrypted_fields",
    "key_id",
    "prev_hash",
)
TIMESTAMP_FIELDS = frozenset({"occurred_at", "recorded_at"})
CHAINED_FIELDS = ("position", "stream_id", "version", "prev_hash")
"""The hashed fields an append learns only under the head lock (and the stream id between
them in the order)."""
EVENT_FIELDS = tuple(f for f in HASHED_FIELDS if f not in CHAINED_FIELDS)
"""The hashed fields an event brings to its append, `event_fields_text`'s, in order."""
_RECORDED = EVENT_FIELDS.index("recorded_at")


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
"""`json.dumps` with these arguments builds this encoder on every call; every append
serialises each event twice, so it is built once."""


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text, no NaN: one byte string per value."""
    return _CANONICAL.encode(value)


def timestamp(moment: datetime) -> str:
    """`moment` in `TIMESTAMP_FORMAT` (naive datetimes are taken to be UTC already).

    Written field by field rather than by `strftime`, whose ``%Y`` gives ``999`` for the year
    999 on glibc where PostgreSQL's ``YYYY`` and SQLite's stored text give ``0999``: a Go zero
    time (``0001-01-01T00:00:00Z``, Alertmanager's "not ended") is a date senders do send."""
    m = as_utc(moment)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond:06d}Z"
    )


def event_hash(**row: Any) -> str:
    """The hash of an event row given as its `HASHED_FIELDS`, timestamps as datetimes."""
    if row.keys() != set(HASHED_FIELDS):
        raise TypeError(f"an event hash takes exactly these fields: {', '.join(HASHED_FIELDS)}")
    return encoded_hash(
        [timestamp(row[f]) if f in TIMESTAMP_FIELDS else row[f] for f in HASHED_FIELDS]
    )


# What `json.dumps(ensure_ascii=False)` itself writes a string with (the C function when the
# interpreter has it), so `encoded_hash` below writes exactly `canonical_json`'s text.
_json_string: Callable[[str], str] = json.encoder.encode_basestring
_EVENT_PREFIX = f"[{_json_string(EVENT_TAG)}"


def encoded_hash(values: Sequence[object]) -> str:
    """The hash of a row's `HASHED_FIELDS` values, in order, timestamps already as text.

    `canonical_json([EVENT_TAG, *values])`, written directly: a row's values are strings,
    integers and null, and `json.dumps` spends most of verification's time setting up its
    encoder for each row. Any other value takes `canonical_json` (the same bytes)."""
    return hashlib.sha256(
        (",".join(_json_parts(values, [_EVENT_PREFIX])) + "]").encode()
    ).hexdigest()


def event_fields_text(row: Mapping[str, Any]) -> str:
    """The `EVENT_FIELDS` of `row` (timestamps as datetimes) as they appear in the hashed
    encoding: their JSON texts joined by commas.

    An event's hash is the SHA-256 of ``["firebreak.audit.event.v1",<position>,<stream_id as
    JSON>,<version>,<this text>,"<prev_hash>"]``: everything but the position, the version
    and the previous hash is known before an append holds the head lock, so PostgreSQL's
    append function (migrations/versions/0017) is given this text and only adds the rest."""
    return EventFields.of(row).text(json_timestamp(row["recorded_at"]))


class EventFields(NamedTuple):
    """An event's `event_fields_text` on either side of its ``recorded_at``: the one field an
    append sets itself, once for all its events and anew on each attempt."""

    before: str
    after: str

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> EventFields:
        """`row`'s fields but ``recorded_at`` (which it need not have) encoded."""
        values = [
            timestamp(row[f]) if f in TIMESTAMP_FIELDS else row[f]
            for f in EVENT_FIELDS
            if f != "recorded_at"
        ]
        parts = _json_parts(values, [])
        return cls(",".join(parts[:_RECORDED]), ",".join(parts[_RECORDED:]))

    def text(self, recorded_at: str) -> str:
        """`event_fields_text` given ``recorded_at`` as `json_timestamp` writes it."""
        return f"{self.before},{recorded_at},{self.after}"


def json_timestamp(moment: datetime) -> str:
    """`timestamp(moment)` as a JSON string (its characters need no escaping)."""
    return f'"{timestamp(moment)}"'


def _json_parts(values: Sequence[object], parts: list[str]) -> list[str]:
    """`parts` with the JSON text of each of `values` appended, as `canonical_json` writes it."""
    for value in values:
        kind = type(value)
        if kind is str:
            parts.append(_json_string(value))  # type: ignore[arg-type]
        elif kind is int:
            parts.append(str(value))
        elif value is None:
            parts.append("null")
        else:
            parts.append(canonical_json(value))
    return parts


def checkpoint_message(position: int, head_hash: str, created_at: datetime) -> bytes:
    """The bytes a checkpoint signature covers."""
    return canonical_json([CHECKPOINT_TAG, position, head_hash, timestamp(created_at)]).encode()
