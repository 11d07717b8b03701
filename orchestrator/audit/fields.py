"""Field-level encryption of sensitive payload values with the shared key ring.

Each sensitive value is sealed (AES-256-GCM) as its canonical JSON, bound by associated data to
the event id and field name so a ciphertext cannot be moved to another event or field, and
stored base64-encoded in place of the value. The blob names its key, so rotation never rewrites.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from orchestrator.audit.chain import canonical_json
from orchestrator.errors import CryptoError
from orchestrator.security.keyring import KeyRing


def _aad(event_id: str, field: str) -> bytes:
    return f"firebreak.audit/{event_id}/{field}".encode()


def seal_fields(
    ring: KeyRing | None, event_id: str, payload: dict[str, Any], sensitive: Sequence[str]
) -> tuple[dict[str, Any], list[str]]:
    """`payload` with the present `sensitive` fields sealed, and the sorted names sealed."""
    names = sorted({name for name in sensitive if name in payload})
    if not names:
        return payload, []
    if ring is None:
        raise CryptoError("event has sensitive fields but the store has no key ring")
    sealed = dict(payload)
    for name in names:
        blob = ring.seal(canonical_json(payload[name]).encode(), aad=_aad(event_id, name))
        sealed[name] = base64.b64encode(blob).decode()
    return sealed, names


def open_fields(
    ring: KeyRing | None, event_id: str, payload: dict[str, Any], names: Sequence[str]
) -> dict[str, Any]:
    """`payload` with the sealed `names` decrypted; a missing key is a `CryptoError`."""
    if not names:
        return payload
    if ring is None:
        raise CryptoError(f"event {event_id} has encrypted fields but no key ring was given")
    opened = dict(payload)
    for name in names:
        try:
            blob = base64.b64decode(payload[name], validate=True)
        except (KeyError, TypeError, binascii.Error):
            raise CryptoError(f"event {event_id}: field {name!r} is not a ciphertext") from None
        opened[name] = json.loads(ring.open(blob, aad=_aad(event_id, name)))
    return opened


def key_id_of(payload: dict[str, Any], names: Sequence[str]) -> str | None:
    """The key that sealed this event's fields (all fields of one event share it)."""
    if not names:
        return None
    return KeyRing.key_id_of(base64.b64decode(payload[names[0]]))
