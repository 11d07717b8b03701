"""Local key store: the embedded stand-in for an AI gateway's API-key admin.

`keys.json` holds each key's metadata and active flag (never the secret itself); `access.jsonl`
is the gateway's access log, one JSON object per request, appended with O_APPEND so concurrent
writers never interleave partial lines.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.errors import ResourceNotFound
from activities.providers.local.state import Document, JsonState
from activities.providers.protocols import KeyState, KeyUsage

RECENT_ACCESS_ENTRIES = 50


def _now() -> str:
    return datetime.now(UTC).isoformat()


class LocalKeyStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = JsonState(root / "keys.json", lambda: {"keys": {}})
        self.access_log = root / "access.jsonl"

    def _key(self, doc: Document, key_id: str) -> dict[str, Any]:
        try:
            key: dict[str, Any] = doc["keys"][key_id]
        except KeyError:
            raise ResourceNotFound(f"no API key {key_id!r} in the local key store") from None
        return key

    def _set_active(self, key_id: str, active: bool, reason: str, idempotency_key: str) -> KeyState:
        def apply(doc: Document) -> KeyState:
            key = self._key(doc, key_id)
            if key["active"] == active:
                return KeyState(key_id=key_id, active=active, changed=False)
            key["active"] = active
            key["revoked_at"] = None if active else _now()
            key["revoked_reason"] = None if active else reason
            return KeyState(key_id=key_id, active=active, changed=True)

        operation = "restore" if active else "revoke"
        return self.state.effect_once(f"{operation}:{key_id}", idempotency_key, KeyState, apply)

    async def revoke(self, key_id: str, *, reason: str, idempotency_key: str) -> KeyState:
        return await asyncio.to_thread(self._set_active, key_id, False, reason, idempotency_key)

    async def restore(self, key_id: str, *, idempotency_key: str) -> KeyState:
        return await asyncio.to_thread(self._set_active, key_id, True, "", idempotency_key)

    def _usage(self, key_id: str) -> KeyUsage:
        self._key(self.state.read(), key_id)
        entries = [e for e in self._read_access_log() if e.get("key_id") == key_id]
        last = max((e["at"] for e in entries), default=None)
        return KeyUsage(
            key_id=key_id,
            requests=len(entries),
            last_used_at=datetime.fromisoformat(last) if last else None,
            detail={"distinct_sources": str(len({e.get("source_ip") for e in entries}))},
            recent=[{k: str(v) for k, v in e.items()} for e in entries[-RECENT_ACCESS_ENTRIES:]],
        )

    async def usage(self, key_id: str) -> KeyUsage:
        return await asyncio.to_thread(self._usage, key_id)

    def _read_access_log(self) -> list[dict[str, Any]]:
        try:
            lines = self.access_log.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def is_active(self, key_id: str) -> bool:
        return bool(self._key(self.state.read(), key_id)["active"])

    def add_key(self, key_id: str, *, name: str, owner: str, created_at: str) -> bool:
        """Register a key (metadata only); returns False if it already exists."""
        with self.state.update() as doc:
            if key_id in doc["keys"]:
                return False
            doc["keys"][key_id] = {
                "name": name,
                "owner": owner,
                "active": True,
                "created_at": created_at,
                "revoked_at": None,
                "revoked_reason": None,
            }
            return True

    def record_access(self, entry: dict[str, Any]) -> None:
        """Append one request to the access log, as the gateway would."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, sort_keys=True).encode() + b"\n"
        fd = os.open(self.access_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
