"""Settings: environment variables, the config file, and one-line errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

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
