"""Configuration, read from `FIREBREAK_*` environment variables and an optional TOML file.

The file named by `FIREBREAK_CONFIG` supplies defaults; environment variables override it.
`load_settings()` turns any validation failure into one `ConfigError` line naming the variable,
so a mistyped port fails at start-up instead of deep inside a request.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from orchestrator.domain import Environment, Severity, SlaTargets, Slug
from orchestrator.errors import ConfigError

ENV_PREFIX = "FIREBREAK_"


class NotifyRoute(BaseModel):
    """Send notifications at or above `min_severity` in `environments` (empty: all) to `urls`.

    A route naming `recipients` serves only escalations to those targets (a playbook's
    `escalate_to`); an escalation whose target no route names goes where other messages go.
    """

    urls: list[str] = Field(min_length=1, description="apprise URLs; may hold secrets.")
    min_severity: Severity = Severity.info
    environments: list[Environment] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)


class SlaRule(BaseModel):
    """SLA targets, in seconds from the incident's opening, for one severity (and optionally one
    incident type: a rule naming the type wins over the severity's). None: no target."""

    model_config = {"extra": "forbid"}

    severity: Severity
    type: Slug | None = None
    acknowledge_seconds: int | None = Field(None, ge=1)
    contain_seconds: int | None = Field(None, ge=1)
    resolve_seconds: int | None = Field(None, ge=1)


HOUR = 3600
DEFAULT_SLA = [
    SlaRule(
        severity=Severity.critical,
        acknowledge_seconds=300,
        contain_seconds=1800,
        resolve_seconds=4 * HOUR,
    ),
    SlaRule(
        severity=Severity.high,
        acknowledge_seconds=900,
        contain_seconds=2 * HOUR,
        resolve_seconds=24 * HOUR,
    ),
    SlaRule(
        severity=Severity.medium,
        acknowledge_seconds=HOUR,
        contain_seconds=8 * HOUR,
        resolve_seconds=72 * HOUR,
    ),
    SlaRule(
        severity=Severity.low,
        acknowledge_seconds=4 * HOUR,
        contain_seconds=24 * HOUR,
        resolve_seconds=168 * HOUR,
    ),
]
"""The targets without configuration (docs/concepts.md, SLAs); `info` incidents have none."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    data_dir: Path = Field(Path(".firebreak"), description="Where the embedded stack keeps state.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the event store; default: SQLite in the data dir."
    )

    temporal_address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port.")
    temporal_namespace: str = "default"
    task_queue: str = "firebreak"
    temporal_api_key: SecretStr | None = Field(None, description="Temporal Cloud API key.")
    temporal_tls_cert: Path | None = Field(None, description="Client certificate for mTLS.")
    temporal_tls_key: Path | None = Field(None, description="Client key for mTLS.")

    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=1, le=65535)
    api_threads: int = Field(
        8, ge=1, le=256, description="Threads for the API's blocking database calls."
    )
    api_access_log: bool = Field(
        False, description="One log line per HTTP request; every alert is in the audit log anyway."
    )
    api_shutdown_seconds: int = Field(
        20,
        ge=0,
        le=3600,
        description=(
            "On SIGTERM/SIGINT the API stops accepting at once and gives requests in flight this"
            " long to finish; past it they are cancelled (docs/production.md, Stopping)."
        ),
    )
    worker_shutdown_seconds: float = Field(
        25.0,
        ge=0,
        le=3600,
        description=(
            "On SIGTERM/SIGINT a worker stops polling and gives running activities this long to"
            " finish; past it they are cancelled and Temporal retries them on another worker."
        ),
    )
    worker_metrics_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description=(
            "Serve the worker's own Prometheus metrics (provider calls, ledger appends) on this"
            " port (0: one the OS picks); unset: none. `firebreak up` serves them on the API's"
            " /metrics instead."
        ),
    )
    worker_metrics_host: str = Field(
        "127.0.0.1", description="Address the worker's metrics listen on (0.0.0.0: every one)."
    )
    temporal_port: int = Field(7233, ge=1, le=65535, description="Port of the embedded server.")
    temporal_ui_port: int = Field(8233, ge=1, le=65535)

    api_url: str = Field("http://127.0.0.1:8080", description="Where the CLI client calls.")
    token: SecretStr | None = Field(None, description="API token the CLI client presents.")

    keyring_file: Path | None = Field(None, description="AES-256-GCM key ring (JSON).")
    signing_key_file: Path | None = Field(None, description="Ed25519 checkpoint signing key (PEM).")
    playbooks_dir: Path | None = Field(None, description="User playbooks that extend built-ins.")
    routes_file: Path | None = Field(
        None,
        description="User routes before the built-in ones; default: routes.yaml in playbooks_dir.",
    )

    keys_provider: str = "local"
    models_provider: str = "local"
    datasets_provider: str = "local"
    retraining_provider: str = "local"
    agents_provider: str = "local"
    evidence_provider: str = Field(
        "local",
        description=(
            "Evidence store: `local` (files in the data dir, one host) or `s3` (shared by every"
            " worker, API replica and CLI)."
        ),
    )
    notify_urls: list[str] = Field(default_factory=list, description="apprise URLs.")
    notify_routes: list[NotifyRoute] = Field(
        default_factory=list, description="Routes by severity/environment, else notify_urls."
    )

    provider_timeout_seconds: float = Field(15.0, gt=0, description="Per HTTP request.")
    mlflow_url: str = "http://127.0.0.1:5000"
    mlflow_token_env: str | None = Field(None, description="Env var holding an MLflow token.")
    mlflow_known_good_tag: str = "firebreak.known_good"
    mlflow_validation_metric: str | None = None
    mlflow_validation_min: float = 0.0
    gateway_preset: str = Field("litellm", description="litellm, kong or openai.")
    gateway_url: str = "http://127.0.0.1:4000"
    gateway_token_env: str = Field("LITELLM_MASTER_KEY", description="Env var of the admin key.")
    gateway_config_file: Path | None = Field(
        None, description="JSON GatewayConfig for a gateway without a preset."
    )
    s3_endpoint: str = "https://s3.amazonaws.com"
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_prefix: str = "datasets/"
    s3_quarantine_prefix: str = "quarantine/"
    s3_access_key_env: str = "AWS_ACCESS_KEY_ID"
    s3_secret_key_env: str = "AWS_SECRET_ACCESS_KEY"  # noqa: S105 - a variable name
    s3_evidence_bucket: str = Field(
        "", description="Bucket of the `s3` evidence store; default: `FIREBREAK_S3_BUCKET`."
    )
    s3_evidence_prefix: str = Field(
        "evidence/", description="Prefix of the evidence items and their idempotency records."
    )
    retraining_url: str = ""
    retraining_target: str = Field("", description="DAG id, WorkflowTemplate, owner/repo/file.")
    retraining_token_env: str | None = None
    retraining_username: str | None = Field(None, description="Airflow basic-auth user.")
    retraining_namespace: str = "default"
    retraining_ref: str = "main"

    forward_sinks: list[str] = Field(
        default_factory=list,
        description=(
            "SIEM sinks `firebreak audit forward` and `firebreak worker --forward` stream the"
            " ledger to: a JSON list of sink URLs (docs/observability.md, Forwarding to a SIEM)."
        ),
    )
    forward_batch_size: int = Field(200, ge=1, le=5000, description="Records per sink request.")
    forward_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often a caught-up forwarder looks for new events."
    )
    forward_max_backoff_seconds: float = Field(
        60.0, gt=0, le=3600, description="Longest wait between retries of a failing sink."
    )
    forward_timeout_seconds: float = Field(15.0, gt=0, description="Per sink request.")

    detect_token: SecretStr | None = Field(
        None, description="Token of the source principal `firebreak detect` raises alerts as."
    )
    detect_webhook_secret: SecretStr | None = Field(
        None, description="That source's webhook signing secret (whsec_…), if it signs."
    )
    detect_otlp_token: SecretStr | None = Field(
        None,
        description="Bearer token the detector's OTLP receiver requires; required off loopback.",
    )
    detect_config: Path | None = Field(
        None, description="Detector parameters (YAML or JSON, docs/detection.md)."
    )
    detect_environment: Environment = Field(
        Environment.prod, description="Environment of the alerts the detector raises."
    )
    detect_inputs: list[str] = Field(
        default_factory=list,
        description="Inputs of `firebreak worker --detect`: a JSON list of `--input` specs.",
    )
    detect_save_seconds: float = Field(
        10.0, gt=0, le=3600, description="How often changed baselines are saved."
    )

    guard_window_seconds: int = Field(3600, ge=0)
    incident_quiet_seconds: int = Field(
        900,
        ge=0,
        description="Close a resolved incident once no alert arrived for this long; "
        "a new alert before then reopens it.",
    )
    sla: list[SlaRule] = Field(
        default_factory=lambda: list(DEFAULT_SLA),
        description="SLA targets: a JSON list of {severity, type?, acknowledge_seconds, "
        "contain_seconds, resolve_seconds}; replaces the defaults (docs/concepts.md, SLAs).",
    )
    sla_escalate_to: str | None = Field(
        None, description="Who an SLA breach notifies (a notify route's recipient)."
    )
    max_alert_bytes: int = Field(256 * 1024, ge=1024)
    rate_limit_per_minute: int = Field(600, ge=1)
    ingest_shed_after_seconds: float = Field(
        1.0,
        ge=0,
        description=(
            "Once the oldest alert in flight in an API process has waited this long, follow-ups"
            " of an incident still being handed alerts get 429 + Retry-After"
            " (alert-formats.md, Overload)."
        ),
    )
    webhook_tolerance_seconds: int = Field(300, ge=1)
    console_session_seconds: int = Field(
        8 * 3600,
        ge=60,
        le=30 * 86400,
        description="A web console sign-in lasts this long, however active the session is.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(f"{ENV_PREFIX}CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @field_validator("sla")
    @classmethod
    def _one_rule_each(cls, rules: list[SlaRule]) -> list[SlaRule]:
        seen: set[tuple[Severity, str | None]] = set()
        for rule in rules:
            key = (rule.severity, rule.type)
            if key in seen:
                named = f"{rule.severity.value}" + (f"/{rule.type}" if rule.type else "")
                raise ValueError(f"two SLA rules for {named}")
            seen.add(key)
        return rules

    def sla_for(self, severity: Severity, type_: str) -> SlaTargets | None:
        """The SLA of an incident: the rule for its severity and type, else its severity's."""
        rules = [r for r in self.sla if r.severity is severity and r.type in (type_, None)]
        if not rules:
            return None
        rule = min(rules, key=lambda r: r.type is None)
        if not (rule.acknowledge_seconds or rule.contain_seconds or rule.resolve_seconds):
            return None
        return SlaTargets(
            acknowledge_seconds=rule.acknowledge_seconds,
            contain_seconds=rule.contain_seconds,
            resolve_seconds=rule.resolve_seconds,
            escalate_to=self.sla_escalate_to,
        )

    @cached_property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'firebreak.db').resolve()}"

    @cached_property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @cached_property
    def keyring_path(self) -> Path:
        return self.keyring_file or self.keys_dir / "keyring.json"

    @cached_property
    def signing_key_path(self) -> Path:
        return self.signing_key_file or self.keys_dir / "checkpoint-ed25519.pem"


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into one line that names the variable."""
    config_file = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"{ENV_PREFIX}CONFIG: no such file: {config_file}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ENV_PREFIX + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(f"{name}: {first['msg']}") from None
