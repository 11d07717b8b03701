"""Content-addressed evidence files under `evidence/sha256/<digest>`.

The name is the SHA-256 of the plaintext, so the digest recorded in the audit ledger proves
which bytes were collected. With a key ring the file holds AES-256-GCM ciphertext bound to that
digest (captured prompts and outputs are sensitive), and reading it back re-checks the hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

from activities.errors import IntegrityFailure, ResourceNotFound
from activities.providers.local.state import Document, JsonState, write_atomic
from orchestrator.errors import CryptoError
from orchestrator.security.keyring import KeyRing

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class LocalEvidenceStore:
    def __init__(self, root: Path, keyring: KeyRing | None = None) -> None:
        self.objects = root / "sha256"
        self.keyring = keyring
        self.index = JsonState(root / "index.json")

    def path_of(self, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise ResourceNotFound(f"not a sha256 digest: {digest!r}")
        return self.objects / digest

    def _put(self, content: bytes, key: str) -> str:
        with self.index.update() as doc:
            seen: Document = doc.setdefault("by_key", {})
            if key in seen:
                return str(seen[key])
            digest = hashlib.sha256(content).hexdigest()
            path = self.path_of(digest)
            if not path.exists():
                stored = (
                    self.keyring.seal(content, aad=digest.encode()) if self.keyring else content
                )
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
        try:
            content = self.keyring.open(stored, aad=digest.encode()) if self.keyring else stored
        except CryptoError as exc:
            raise IntegrityFailure(f"evidence {digest} cannot be opened: {exc.detail}") from None
        if hashlib.sha256(content).hexdigest() != digest:
            raise IntegrityFailure(f"evidence {digest} does not match its digest")
        return content

    async def get(self, digest: str) -> bytes:
        return await asyncio.to_thread(self._get, digest)
