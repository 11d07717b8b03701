"""Content-addressed evidence files under `evidence/sha256/<digest>`, the embedded default.

What a stored item is and how a read re-checks it is `activities/providers/sealing.py`; this
store only keeps the blobs in the data dir, so only processes on this host read them (the S3
store, `activities/providers/s3_evidence.py`, is the shared one).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from activities.errors import ResourceNotFound
from activities.providers.local.state import Document, JsonState, write_atomic
from activities.providers.sealing import checked_digest, seal, unseal
from orchestrator.security.keyring import KeyRing


class LocalEvidenceStore:
    def __init__(self, root: Path, keyring: KeyRing | None = None) -> None:
        self.objects = root / "sha256"
        self.keyring = keyring
        self.index = JsonState(root / "index.json")

    def path_of(self, digest: str) -> Path:
        return self.objects / checked_digest(digest)

    def _put(self, content: bytes, key: str) -> str:
        with self.index.update() as doc:
            seen: Document = doc.setdefault("by_key", {})
            if key in seen:
                return str(seen[key])
            digest, stored = seal(self.keyring, content)
            path = self.path_of(digest)
            if not path.exists():
                write_atomic(path, stored)
            seen[key] = digest
            return digest

    async def put(self, content: bytes, *, idempotency_key: str) -> str:
        return await asyncio.to_thread(self._put, content, idempotency_key)

    def _get(self, digest: str) -> bytes:
        try:
            stored = self.path_of(digest).read_bytes()
        except FileNotFoundError:
            raise ResourceNotFound(f"no evidence {digest}") from None
        return unseal(self.keyring, digest, stored)

    async def get(self, digest: str) -> bytes:
        return await asyncio.to_thread(self._get, digest)
