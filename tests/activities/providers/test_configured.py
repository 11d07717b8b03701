"""The real providers are chosen by settings, and misconfiguration is one ConfigError line."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from activities.factory import build_evidence_reader, build_providers
from activities.providers.apprise_notify import AppriseNotifier
from activities.providers.http_keys import HttpKeyProvider
from activities.providers.local.evidence import LocalEvidenceStore as LocalEvidence
from activities.providers.mlflow import MlflowRegistry
from activities.providers.retraining import ArgoRunner
from activities.providers.s3_datasets import S3DatasetStore
from activities.providers.s3_evidence import S3EvidenceStore
from orchestrator.errors import ConfigError, NotFound
from orchestrator.settings import load_settings
from tests.support.providers import S3Endpoint


def test_real_providers_are_built_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("KONG_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "x")
    providers = build_providers(
        load_settings(
            data_dir=tmp_path,
            keys_provider="kong",
            gateway_token_env="KONG_TOKEN",
            models_provider="mlflow",
            datasets_provider="s3",
            s3_bucket="datasets",
            retraining_provider="argo",
            retraining_url="https://argo.example",
            retraining_target="retrain",
            notify_routes=[{"urls": ["json://127.0.0.1:9/x"], "min_severity": "high"}],
        )
    )
    assert isinstance(providers.keys, HttpKeyProvider) and providers.keys.config.name == "kong"
    assert isinstance(providers.models, MlflowRegistry)
    assert isinstance(providers.datasets, S3DatasetStore)
    assert isinstance(providers.retraining, ArgoRunner)
    assert isinstance(providers.notifier, AppriseNotifier)


def test_custom_gateway_from_a_file(tmp_path: Path) -> None:
    config = tmp_path / "gateway.json"
    config.write_text('{"name": "mine", "url": "http://gw", "revoke": {"path": "/block/{key_id}"}}')
    providers = build_providers(
        load_settings(data_dir=tmp_path, keys_provider="http", gateway_config_file=config)
    )
    assert isinstance(providers.keys, HttpKeyProvider) and providers.keys.config.name == "mine"
    config.write_text('{"name": "mine"}')
    with pytest.raises(ConfigError, match="FIREBREAK_GATEWAY_CONFIG_FILE: url: Field required"):
        build_providers(
            load_settings(data_dir=tmp_path, keys_provider="http", gateway_config_file=config)
        )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"datasets_provider": "s3"}, "FIREBREAK_S3_BUCKET: required"),
        ({"keys_provider": "http", "gateway_preset": "apisix"}, "unknown preset 'apisix'"),
        (
            {"keys_provider": "litellm", "gateway_token_env": "FB_UNSET_TOKEN"},
            "FIREBREAK_GATEWAY_TOKEN_ENV: environment variable FB_UNSET_TOKEN is not set",
        ),
        ({"retraining_provider": "airflow"}, "FIREBREAK_RETRAINING_TARGET: required"),
        ({"evidence_provider": "s3"}, "FIREBREAK_S3_EVIDENCE_BUCKET: required"),
        ({"evidence_provider": "gcs"}, "FIREBREAK_EVIDENCE_PROVIDER: unknown provider 'gcs'"),
    ],
)
def test_misconfiguration_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.delenv("FB_UNSET_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=message):
        build_providers(load_settings(data_dir=tmp_path, **overrides))


async def test_evidence_in_s3_is_read_by_another_process_with_the_key_ring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_server: S3Endpoint
) -> None:
    """`FIREBREAK_EVIDENCE_PROVIDER=s3`: what a worker's collection stores, a process with its
    own data dir and the same key ring file reads (as an API replica or auditor's CLI does),
    and the bucket holds only ciphertext; the local store stays the default."""
    bucket = f"fb-evidence-{uuid.uuid4().hex[:8]}"
    s3_server.client().create_bucket(Bucket=bucket)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    ring = tmp_path / "shared" / "keyring.json"
    common = {
        "evidence_provider": "s3",
        "s3_endpoint": s3_server.url,
        "s3_evidence_bucket": bucket,
        "keyring_file": ring,
    }
    worker = build_providers(load_settings(data_dir=tmp_path / "worker", **common))
    assert isinstance(worker.evidence, S3EvidenceStore)
    assert isinstance(build_providers(load_settings(data_dir=tmp_path)).evidence, LocalEvidence)
    content = b'{"kind":"access_logs","data":{"ip":"203.0.113.77"}}'
    digest = await worker.evidence.put(content, idempotency_key="incident-1/collect")
    elsewhere = build_evidence_reader(load_settings(data_dir=tmp_path / "api", **common))
    assert await elsewhere.read(digest) == content
    listing = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    blobs = [
        s3_server.client().get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing
    ]
    assert f"evidence/sha256/{digest}" in [o["Key"] for o in listing]
    assert not any(b"203.0.113.77" in blob for blob in blobs)
    with pytest.raises(NotFound, match="no evidence"):
        await elsewhere.read(hashlib.sha256(b"never collected").hexdigest())
