"""The EvidenceStore contract against the data-dir store and the S3 store on a real moto S3
server that checks SigV4 signatures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from activities.errors import IntegrityFailure
from activities.providers.local.evidence import LocalEvidenceStore
from activities.providers.protocols import EvidenceStore
from activities.providers.s3_datasets import S3Config
from activities.providers.s3_evidence import S3EvidenceStore
from orchestrator.security.keyring import KeyRing
from tests.activities.conftest import tree_state
from tests.activities.providers.contract_evidence import ITEM, EvidenceStoreContract
from tests.support.providers import S3Endpoint


class TestLocalEvidenceStore(EvidenceStoreContract):
    @pytest.fixture(autouse=True)
    def system(self, tmp_path: Path) -> None:
        self.root, self.keyring = tmp_path / "evidence", KeyRing.generate()
        self.provider = LocalEvidenceStore(self.root, self.keyring)

    def reopen(self, keyring: KeyRing) -> EvidenceStore:
        return LocalEvidenceStore(self.root, keyring)

    async def stored(self, digest: str) -> bytes | None:
        path = self.root / "sha256" / digest
        return path.read_bytes() if path.exists() else None

    async def overwrite(self, digest: str, blob: bytes) -> None:
        (self.root / "sha256" / digest).write_bytes(blob)

    async def observe(self) -> object:
        return tree_state(self.root)


class TestS3EvidenceStore(EvidenceStoreContract):
    PREFIX = "evidence/"

    @pytest.fixture(autouse=True)
    async def system(
        self, s3_server: S3Endpoint, monkeypatch: pytest.MonkeyPatch
    ) -> AsyncIterator[None]:
        self.s3, self.bucket = s3_server.new_bucket(monkeypatch)
        self.config = S3Config(
            endpoint=s3_server.url,
            bucket=self.bucket,
            prefix=self.PREFIX,
            access_key_env="CONTRACT_S3_ACCESS",
            secret_key_env="CONTRACT_S3_SECRET",
        )
        self.keyring = KeyRing.generate()
        self.provider = self.store = S3EvidenceStore(self.config, self.keyring)
        self.opened: list[S3EvidenceStore] = [self.store]
        yield
        for store in self.opened:
            await store.aclose()

    def reopen(self, keyring: KeyRing) -> EvidenceStore:
        store = S3EvidenceStore(self.config, keyring)
        self.opened.append(store)
        return store

    async def stored(self, digest: str) -> bytes | None:
        key = self.store.object_key(digest)
        if not self.s3.list_objects_v2(Bucket=self.bucket, Prefix=key).get("Contents"):
            return None
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    async def overwrite(self, digest: str, blob: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.store.object_key(digest), Body=blob)

    async def observe(self) -> object:
        """Every object under the prefix with its bytes and ETag (a rewrite changes neither
        only if it wrote the very same bytes)."""
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self.PREFIX)
        return {
            o["Key"]: (o["ETag"], o["LastModified"], o["Size"]) for o in listing.get("Contents", [])
        }

    async def test_attempts_racing_on_one_key_agree_on_one_digest(self) -> None:
        """Two workers' attempts of one collection at once (a retry after a lost heartbeat):
        both read no record, both write one conditionally; the store refuses the second
        (412) and that attempt answers with the first one's digest, not its own."""
        stores = [self.reopen(self.keyring) for _ in range(4)]
        contents = [f"attempt {n} at another instant".encode() for n in range(4)]
        digests = await asyncio.gather(
            *(s.put(c, idempotency_key="wf/race") for s, c in zip(stores, contents, strict=True))
        )
        assert len(set(digests)) == 1
        assert await self.provider.get(digests[0]) in contents

    async def test_a_corrupt_idempotency_record_is_an_integrity_failure(self) -> None:
        """Someone with write access to the bucket replaced a record: say so, store nothing."""
        await self.store.put(ITEM, idempotency_key="wf/collect-1")
        [record] = [
            o["Key"]
            for o in self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{self.PREFIX}keys/")[
                "Contents"
            ]
        ]
        self.s3.put_object(Bucket=self.bucket, Key=record, Body=b"../../other-digest")
        with pytest.raises(IntegrityFailure, match="holds no digest"):
            await self.store.put(ITEM, idempotency_key="wf/collect-1")
