"""Settings: environment variables, the config file, and one-line errors naming the variable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.domain import Severity, SlaTargets
from orchestrator.errors import ConfigError
from orchestrator.settings import load_settings


def test_invalid_setting_fails_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIREBREAK_API_PORT", "not-a-port")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.detail.startswith("FIREBREAK_API_PORT:")
    assert "\n" not in info.value.detail


def test_config_file_supplies_defaults_and_env_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "firebreak.toml"
    config.write_text('task_queue = "from-file"\napi_port = 9001\n')
    monkeypatch.setenv("FIREBREAK_CONFIG", str(config))
    monkeypatch.setenv("FIREBREAK_API_PORT", "9002")
    settings = load_settings()
    assert settings.task_queue == "from-file"
    assert settings.api_port == 9002


def test_missing_config_file_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREBREAK_CONFIG", "/nonexistent/firebreak.toml")
    with pytest.raises(ConfigError, match="FIREBREAK_CONFIG"):
        load_settings()


def test_default_database_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.db_url == f"sqlite:///{tmp_path.resolve() / 'firebreak.db'}"


def test_sla_targets_by_severity_and_type(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    high = defaults.sla_for(Severity.high, "prompt_injection")
    assert high is not None and high.acknowledge_seconds == 900 and high.escalate_to is None
    assert defaults.sla_for(Severity.info, "prompt_injection") is None
    rules = [
        {"severity": "critical", "acknowledge_seconds": 300, "resolve_seconds": 14400},
        {"severity": "critical", "type": "data_poisoning", "resolve_seconds": 86400},
        {"severity": "low"},
    ]
    monkeypatch.setenv("FIREBREAK_SLA", json.dumps(rules))
    monkeypatch.setenv("FIREBREAK_SLA_ESCALATE_TO", "security-lead")
    settings = load_settings()
    general = settings.sla_for(Severity.critical, "prompt_injection")
    assert general == SlaTargets(
        acknowledge_seconds=300, resolve_seconds=14400, escalate_to="security-lead"
    )
    poisoning = settings.sla_for(Severity.critical, "data_poisoning")
    assert poisoning is not None and poisoning.resolve_seconds == 86400
    assert poisoning.acknowledge_seconds is None, "the type's rule wins whole"
    assert settings.sla_for(Severity.low, "x") is None, "a rule without targets: no SLA"
    assert settings.sla_for(Severity.high, "x") is None, "the configured list replaces defaults"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{"severity": "high"}, {"severity": "high"}], "two SLA rules for high"),
        ([{"severity": "urgent"}], "FIREBREAK_SLA_0_SEVERITY"),
        ([{"severity": "high", "acknowledge_seconds": 0}], "greater than or equal to 1"),
        ([{"severity": "high", "ack": 60}], "Extra inputs"),
        ([{"severity": "high", "type": "Not A Slug"}], "pattern"),
    ],
)
def test_bad_sla_rules_fail_with_one_line(
    monkeypatch: pytest.MonkeyPatch, rules: list[dict[str, object]], message: str
) -> None:
    monkeypatch.setenv("FIREBREAK_SLA", json.dumps(rules))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert message in info.value.detail and "\n" not in info.value.detail
    assert info.value.detail.startswith("FIREBREAK_SLA")
