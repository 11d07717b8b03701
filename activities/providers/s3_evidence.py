"""EvidenceStore over an S3-compatible object store, so every worker, API replica and auditor's
CLI reads the evidence any worker collected (the local store's files stay on one host).

Layout under the evidence prefix of the bucket::

    <prefix>sha256/<digest>       the item, sealed under the key ring (sealing.py)
    <prefix>keys/<sha256(key)>    the digest first stored under an idempotency key

The object store never sees plaintext: what it holds is AES-256-GCM ciphertext bound to its
digest, so a bucket reader learns nothing and a bucket writer can only make a read fail, with
an error naming the digest. An existing item is never written again (re-sealing would change
its bytes for nothing). The idempotency record is written with `If-None-Match: *`, so of two
attempts racing on one key the second gets 412 and answers with the first one's digest; a
store that ignores the header degrades to the last writer's digest, both of which are stored.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from activities.errors import IntegrityFailure, ResourceNotFound
from activities.providers.http_support import call
from activities.providers.s3_datasets import S3Config, signed_client
from activities.providers.sealing import DIGEST, checked_digest, digest_of, seal, unseal
from orchestrator.security.keyring import KeyRing

DEFAULT_PREFIX = "evidence/"


class S3EvidenceStore:
    """The `EvidenceStore` protocol on one bucket and prefix (`config.prefix`)."""

    def __init__(
        self, config: S3Config, keyring: KeyRing, client: httpx.AsyncClient | None = None
    ) -> None:
        self._prefix = config.prefix
        self._keyring = keyring
        self._client = client or signed_client(config)

    async def aclose(self) -> None:
        await self._client.aclose()

    def object_key(self, digest: str) -> str:
        """Where the item `digest` lives in the bucket."""
        return f"{self._prefix}sha256/{checked_digest(digest)}"

    def _record_key(self, idempotency_key: str) -> str:
        return f"{self._prefix}keys/{digest_of(idempotency_key.encode())}"

    async def put(self, content: bytes, *, idempotency_key: str) -> str:
        record = self._record_key(idempotency_key)
        first = await self._read(record, what="S3: read evidence record")
        if first is not None:
            return self._recorded(first, idempotency_key)
        digest, blob = seal(self._keyring, content)
        key = self.object_key(digest)
        existing = await call(
            self._client, "HEAD", "/" + quote(key), what="S3: look up evidence", accept={404}
        )
        if existing.status_code == 404:
            await call(
                self._client, "PUT", "/" + quote(key), content=blob, what="S3: store evidence"
            )
        written = await call(
            self._client,
            "PUT",
            "/" + quote(record),
            content=digest.encode(),
            headers={"if-none-match": "*"},
            what="S3: write evidence record",
            accept={412},
        )
        if written.status_code == 412:
            raced = await self._read(record, what="S3: read evidence record")
            if raced is not None:
                return self._recorded(raced, idempotency_key)
        return digest

    @staticmethod
    def _recorded(record: bytes, idempotency_key: str) -> str:
        """The digest an idempotency record holds; anything else was written by someone else."""
        digest = record.decode("ascii", "replace")
        if not DIGEST.match(digest):
            raise IntegrityFailure(
                f"S3: the evidence record of {idempotency_key[:200]!r} holds no digest"
            )
        return digest

    async def get(self, digest: str) -> bytes:
        stored = await self._read(self.object_key(digest), what="S3: read evidence")
        if stored is None:
            raise ResourceNotFound(f"no evidence {digest}")
        return unseal(self._keyring, digest, stored)

    async def _read(self, key: str, *, what: str) -> bytes | None:
        response = await call(self._client, "GET", "/" + quote(key), what=what, accept={404})
        return None if response.status_code == 404 else response.content
