"""Build the real providers from `Settings`, for the registries in `activities/factory.py`.

Configuration mistakes (a missing URL, an unset secret variable, an unknown preset) surface
here as one `ConfigError` naming the `FIREBREAK_*` setting, at worker start-up rather than in
the middle of an incident.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from activities.providers.apprise_notify import AppriseNotifier
from activities.providers.http_keys import PRESETS, GatewayConfig, HttpKeyProvider
from activities.providers.mlflow import MlflowConfig, MlflowRegistry
from activities.providers.protocols import RetrainingRunner
from activities.providers.retraining import RUNNERS, PipelineConfig
from activities.providers.s3_datasets import S3Config, S3DatasetStore
from activities.providers.s3_evidence import S3EvidenceStore
from orchestrator.errors import ConfigError
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import ENV_PREFIX, Settings


def _require(value: str | None, setting: str) -> str:
    if not value:
        raise ConfigError(f"{ENV_PREFIX}{setting.upper()}: required by the configured provider")
    return value


def _require_env(variable: str | None, setting: str) -> None:
    if variable and not os.environ.get(variable):
        raise ConfigError(
            f"{ENV_PREFIX}{setting.upper()}: environment variable {variable} is not set"
        )


def mlflow_registry(settings: Settings) -> MlflowRegistry:
    _require_env(settings.mlflow_token_env, "mlflow_token_env")
    return MlflowRegistry(
        MlflowConfig(
            url=_require(settings.mlflow_url, "mlflow_url"),
            token_env=settings.mlflow_token_env,
            known_good_tag=settings.mlflow_known_good_tag,
            validation_metric=settings.mlflow_validation_metric,
            validation_min=settings.mlflow_validation_min,
            timeout_seconds=settings.provider_timeout_seconds,
        )
    )


def _gateway_file(path: Path) -> GatewayConfig:
    try:
        return GatewayConfig.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{ENV_PREFIX}GATEWAY_CONFIG_FILE: cannot read {path}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{ENV_PREFIX}GATEWAY_CONFIG_FILE: {where}: {first['msg']}") from None


def key_provider(preset: str | None) -> Callable[[Settings], HttpKeyProvider]:
    """`preset=None` is the `http` provider: the preset or config file chosen in settings."""

    def build(settings: Settings) -> HttpKeyProvider:
        if preset is None and settings.gateway_config_file is not None:
            config = _gateway_file(settings.gateway_config_file)
        else:
            name = preset or settings.gateway_preset
            if name not in PRESETS:
                known = ", ".join(sorted(PRESETS))
                raise ConfigError(f"{ENV_PREFIX}GATEWAY_PRESET: unknown preset {name!r} ({known})")
            _require_env(settings.gateway_token_env, "gateway_token_env")
            config = PRESETS[name](
                _require(settings.gateway_url, "gateway_url"), settings.gateway_token_env
            )
        config = config.model_copy(update={"timeout_seconds": settings.provider_timeout_seconds})
        return HttpKeyProvider(config)

    return build


def s3_store(settings: Settings) -> S3DatasetStore:
    _require_env(settings.s3_access_key_env, "s3_access_key_env")
    _require_env(settings.s3_secret_key_env, "s3_secret_key_env")
    return S3DatasetStore(
        S3Config(
            endpoint=_require(settings.s3_endpoint, "s3_endpoint"),
            bucket=_require(settings.s3_bucket, "s3_bucket"),
            region=settings.s3_region,
            prefix=settings.s3_prefix,
            quarantine_prefix=settings.s3_quarantine_prefix,
            access_key_env=settings.s3_access_key_env,
            secret_key_env=settings.s3_secret_key_env,
            timeout_seconds=settings.provider_timeout_seconds,
        )
    )


def s3_evidence(settings: Settings) -> S3EvidenceStore:
    """Evidence on the datasets' S3 endpoint and credentials, in its own bucket if one is set."""
    _require_env(settings.s3_access_key_env, "s3_access_key_env")
    _require_env(settings.s3_secret_key_env, "s3_secret_key_env")
    bucket = settings.s3_evidence_bucket or settings.s3_bucket
    return S3EvidenceStore(
        S3Config(
            endpoint=_require(settings.s3_endpoint, "s3_endpoint"),
            bucket=_require(bucket, "s3_evidence_bucket"),
            region=settings.s3_region,
            prefix=settings.s3_evidence_prefix,
            access_key_env=settings.s3_access_key_env,
            secret_key_env=settings.s3_secret_key_env,
            timeout_seconds=settings.provider_timeout_seconds,
        ),
        KeyRing.load_or_create(settings.keyring_path),
    )


def retraining_runner(kind: str) -> Callable[[Settings], RetrainingRunner]:
    def build(settings: Settings) -> RetrainingRunner:
        _require_env(settings.retraining_token_env, "retraining_token_env")
        if kind != "webhook":
            _require(settings.retraining_target, "retraining_target")
        return RUNNERS[kind](
            PipelineConfig(
                url=_require(settings.retraining_url, "retraining_url"),
                target=settings.retraining_target,
                token_env=settings.retraining_token_env,
                username=settings.retraining_username,
                namespace=settings.retraining_namespace,
                ref=settings.retraining_ref,
                timeout_seconds=settings.provider_timeout_seconds,
            )
        )

    return build


def apprise_notifier(settings: Settings) -> AppriseNotifier:
    return AppriseNotifier(settings.notify_routes, settings.notify_urls)
