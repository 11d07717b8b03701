"""The hash chain's canonical encoding (specified in docs/audit-ledger.md; change = new version).

Every stored event commits to its predecessor's hash and to its own fields exactly as stored
(sensitive fields as ciphertext), so anyone holding the rows can re-check the chain without keys.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from orchestrator.timeutil import as_utc

GENESIS_HASH = "0" * 64
EVENT_TAG = "firebreak.audit.event.v1"
CHECKPOINT_TAG = "firebreak.audit.checkpoint.v1"


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text, no NaN: one byte string per value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC, the only timestamp form that is hashed."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    position: int,
    stream_id: str,
    version: int,
    event_id: str,
    type: str,
    actor_id: str,
    actor_role: str,
    occurred_at: datetime,
    recorded_at: datetime,
    payload: str,
    encrypted_fields: str,
    key_id: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) over the canonical JSON array of an event row's fields and `prev_hash`."""
    return encoded_hash(
        position,
        stream_id,
        version,
        event_id,
        type,
        actor_id,
        actor_role,
        timestamp(occurred_at),
        timestamp(recorded_at),
        payload,
        encrypted_fields,
        key_id,
        prev_hash,
    )


def encoded_hash(*fields: object) -> str:
    """The hash of a row whose fields are already in column order, timestamps as text."""
    return hashlib.sha256(canonical_json([EVENT_TAG, *fields]).encode()).hexdigest()


def checkpoint_message(position: int, head_hash: str, created_at: datetime) -> bytes:
    """The bytes a checkpoint signature covers."""
    return canonical_json([CHECKPOINT_TAG, position, head_hash, timestamp(created_at)]).encode()
