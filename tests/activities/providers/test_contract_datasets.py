"""The DatasetStore contract against the directory store and the S3 store on a real moto S3
server that checks SigV4 signatures."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from activities.effects import EffectRecords
from activities.providers.local.datasets import MANIFEST, LocalDatasetStore
from activities.providers.s3_datasets import S3Config, S3DatasetStore
from activities.recorded import RecordedDatasets
from tests.activities.conftest import tree_state
from tests.activities.providers.contract_datasets import DatasetStoreContract, Where
from tests.support.providers import S3Endpoint


def _name() -> str:
    return f"tx-{uuid.uuid4().hex[:8]}"


class TestLocalDatasetStore(DatasetStoreContract):
    @pytest.fixture(autouse=True)
    def system(self, tmp_path: Path, effect_records: EffectRecords) -> None:
        self.root = tmp_path
        self.store = LocalDatasetStore(tmp_path)
        self.provider = RecordedDatasets(self.store, effect_records)

    async def make_dataset(self, versions: dict[str, dict[str, bytes]]) -> str:
        dataset = _name()
        for version, files in versions.items():
            assert self.store.add_version(dataset, version, files)
        return dataset

    async def write_file(
        self, dataset: str, version: str, name: str, content: bytes | None
    ) -> None:
        path = self.root / dataset / version / name
        if content is None:
            path.unlink()
        else:
            path.write_bytes(content)

    async def where(self, dataset: str, version: str) -> Where | None:
        if (self.root / dataset / version / MANIFEST).is_file():
            return "live"
        if (self.root / dataset / "quarantine" / version / MANIFEST).is_file():
            return "quarantined"
        return None

    async def observe(self, dataset: str) -> object:
        """Every file of the dataset but `state.json`, which holds effect records, not data."""
        files = tree_state(self.root / dataset)
        return {path: body for path, body in files.items() if path != "state.json"}


class TestS3DatasetStore(DatasetStoreContract):
    PREFIX, HELD = "datasets/", "quarantine/"

    @pytest.fixture(autouse=True)
    async def system(
        self,
        s3_server: S3Endpoint,
        monkeypatch: pytest.MonkeyPatch,
        effect_records: EffectRecords,
    ) -> AsyncIterator[None]:
        self.s3, self.bucket = s3_server.new_bucket(monkeypatch)
        config = S3Config(
            endpoint=s3_server.url,
            bucket=self.bucket,
            prefix=self.PREFIX,
            quarantine_prefix=self.HELD,
            access_key_env="CONTRACT_S3_ACCESS",
            secret_key_env="CONTRACT_S3_SECRET",
        )
        store = S3DatasetStore(config)
        self.provider = RecordedDatasets(store, effect_records)
        yield
        await store.aclose()

    def _put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def _keys(self, prefix: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    async def make_dataset(self, versions: dict[str, dict[str, bytes]]) -> str:
        dataset = _name()
        for version, files in versions.items():
            base = f"{self.PREFIX}{dataset}/{version}/"
            for name, body in files.items():
                self._put(base + name, body)
            manifest = {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}
            self._put(base + MANIFEST, json.dumps({"files": manifest}).encode())
        return dataset

    async def write_file(
        self, dataset: str, version: str, name: str, content: bytes | None
    ) -> None:
        key = f"{self.PREFIX}{dataset}/{version}/{name}"
        if content is None:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        else:
            self._put(key, content)

    async def where(self, dataset: str, version: str) -> Where | None:
        places: dict[str, Where] = {self.PREFIX: "live", self.HELD: "quarantined"}
        for prefix, place in places.items():
            if self._keys(f"{prefix}{dataset}/{version}/{MANIFEST}"):
                return place
        return None

    async def observe(self, dataset: str) -> object:
        """Every object of the dataset, live or held: its bytes and its tags."""
        keys = self._keys(f"{self.PREFIX}{dataset}/") + self._keys(f"{self.HELD}{dataset}/")
        return {
            key: (
                self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read(),
                self.s3.get_object_tagging(Bucket=self.bucket, Key=key)["TagSet"],
            )
            for key in keys
        }
