"""S3DatasetStore against a real moto S3 server that verifies SigV4 signatures."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from activities.errors import ProviderError
from activities.providers.s3_datasets import S3Config, S3DatasetStore
from tests.support.providers import S3Endpoint

CLEAN = {"train.csv": b"id,label\n1,ok\n", "labels/classes.txt": b"ok\nfraud\n"}


def _upload(s3: Any, bucket: str, version: str, files: dict[str, bytes]) -> None:
    manifest = {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}
    for name, body in files.items():
        s3.put_object(Bucket=bucket, Key=f"datasets/fraud/{version}/{name}", Body=body)
    s3.put_object(
        Bucket=bucket,
        Key=f"datasets/fraud/{version}/MANIFEST.json",
        Body=json.dumps({"files": manifest}).encode(),
    )


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


@pytest.fixture
def bucket(s3_server: S3Endpoint) -> str:
    name = f"fb-{uuid.uuid4().hex[:12]}"
    s3 = s3_server.client()
    s3.create_bucket(Bucket=name)
    _upload(s3, name, "v1", CLEAN)
    _upload(s3, name, "v2", CLEAN)
    _upload(s3, name, "v10", CLEAN)
    s3.put_object(Bucket=name, Key="datasets/fraud/v2/train.csv", Body=b"id,label\n1,fraud\n")
    return name


@pytest.fixture
async def store(
    s3_server: S3Endpoint, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[S3DatasetStore]:
    monkeypatch.setenv("FB_S3_ACCESS", s3_server.access_key)
    monkeypatch.setenv("FB_S3_SECRET", s3_server.secret_key)
    provider = S3DatasetStore(
        S3Config(
            endpoint=s3_server.url,
            bucket=bucket,
            access_key_env="FB_S3_ACCESS",
            secret_key_env="FB_S3_SECRET",
        )
    )
    yield provider
    await provider.aclose()


async def test_verify_reports_each_mismatch(
    store: S3DatasetStore, s3_server: S3Endpoint, bucket: str
) -> None:
    clean = await store.verify("fraud", "v1")
    assert (clean.ok, clean.checked, clean.mismatches) == (True, 2, [])
    assert clean.manifest["train.csv"] == hashlib.sha256(CLEAN["train.csv"]).hexdigest()

    s3 = s3_server.client()
    s3.delete_object(Bucket=bucket, Key="datasets/fraud/v2/labels/classes.txt")
    s3.put_object(Bucket=bucket, Key="datasets/fraud/v2/extra.bin", Body=b"x")
    tampered = await store.verify("fraud", "v2")
    assert not tampered.ok
    assert tampered.mismatches == [
        "extra.bin: not in manifest",
        "labels/classes.txt: missing",
        "train.csv: sha256 differs",
    ]


async def test_quarantine_moves_tags_and_release_restores(
    store: S3DatasetStore, s3_server: S3Endpoint, bucket: str
) -> None:
    s3 = s3_server.client()
    state = await store.quarantine("fraud", "v2", incident_id="inc-9", idempotency_key="wf/q")
    assert (state.quarantined, state.changed) == (True, True)
    assert _keys(s3, bucket, "datasets/fraud/v2/") == []
    held = _keys(s3, bucket, "quarantine/fraud/v2/")
    assert held == [
        "quarantine/fraud/v2/MANIFEST.json",
        "quarantine/fraud/v2/QUARANTINED.json",
        "quarantine/fraud/v2/labels/classes.txt",
        "quarantine/fraud/v2/train.csv",
    ]
    tags = s3.get_object_tagging(Bucket=bucket, Key="quarantine/fraud/v2/train.csv")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {
        "firebreak-quarantined": "true",
        "firebreak-incident": "inc-9",
    }
    assert (
        await store.quarantine("fraud", "v2", incident_id="inc-9", idempotency_key="wf/q")
    ).changed
    assert not (
        await store.quarantine("fraud", "v2", incident_id="inc-10", idempotency_key="other")
    ).changed
    assert await store.versions("fraud") == {"v1": False, "v2": True, "v10": False}
    assert not (await store.verify("fraud", "v2")).ok  # still verifiable where it is held
    assert await store.latest_clean("fraud") == "v10"

    released = await store.release("fraud", "v2", idempotency_key="wf/r")
    assert (released.quarantined, released.changed) == (False, True)
    assert _keys(s3, bucket, "quarantine/") == []
    assert s3.get_object_tagging(Bucket=bucket, Key="datasets/fraud/v2/train.csv")["TagSet"] == []
    assert not (await store.release("fraud", "v2", idempotency_key="wf/r")).changed


async def test_interrupted_quarantine_is_finished_by_a_retry(
    store: S3DatasetStore, s3_server: S3Endpoint, bucket: str
) -> None:
    s3 = s3_server.client()
    # A crash after copying train.csv and deleting its original, before the manifest went.
    s3.copy_object(
        Bucket=bucket,
        Key="quarantine/fraud/v1/train.csv",
        CopySource={"Bucket": bucket, "Key": "datasets/fraud/v1/train.csv"},
    )
    s3.delete_object(Bucket=bucket, Key="datasets/fraud/v1/train.csv")
    await store.quarantine("fraud", "v1", incident_id="inc-1", idempotency_key="k")
    assert _keys(s3, bucket, "datasets/fraud/v1/") == []
    report = await store.verify("fraud", "v1")
    assert report.ok, report.mismatches
    assert await store.latest_clean("fraud") == "v10"


async def test_wrong_secret_is_refused_and_not_retryable(
    s3_server: S3Endpoint, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FB_S3_ACCESS", s3_server.access_key)
    monkeypatch.setenv("FB_S3_SECRET", "not-the-secret")
    config = S3Config(
        endpoint=s3_server.url,
        bucket=bucket,
        access_key_env="FB_S3_ACCESS",
        secret_key_env="FB_S3_SECRET",
    )
    with pytest.raises(ProviderError, match="HTTP 403") as caught:
        await S3DatasetStore(config).verify("fraud", "v1")
    assert not caught.value.retryable
    assert "not-the-secret" not in str(caught.value)


async def test_unreachable_store_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    store = S3DatasetStore(S3Config(endpoint="http://127.0.0.1:9", bucket="x", timeout_seconds=2))
    with pytest.raises(ProviderError, match="cannot connect") as caught:
        await store.versions("fraud")
    assert caught.value.retryable
