"""The real providers are chosen by settings, and misconfiguration is one ConfigError line."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.factory import build_providers
from activities.providers.apprise_notify import AppriseNotifier
from activities.providers.http_keys import HttpKeyProvider
from activities.providers.mlflow import MlflowRegistry
from activities.providers.retraining import ArgoRunner
from activities.providers.s3_datasets import S3DatasetStore
from orchestrator.errors import ConfigError
from orchestrator.settings import load_settings


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
