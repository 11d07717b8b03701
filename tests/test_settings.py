"""Settings and key ring: the pieces every other module leans on."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ConfigError, CryptoError
from orchestrator.security.keyring import KeyRing
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


def test_rotated_key_ring_still_opens_old_ciphertext(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = KeyRing.load_or_create(path)
    old_blob = ring.seal(b"secret prompt", aad=b"ctx")
    rotated = ring.rotated()
    rotated.save(path)
    reloaded = KeyRing.load(path)
    assert reloaded.current != ring.current
    assert reloaded.open(old_blob, aad=b"ctx") == b"secret prompt"
    assert KeyRing.key_id_of(reloaded.seal(b"x")) == reloaded.current
    assert path.stat().st_mode & 0o777 == 0o600


def test_ciphertext_without_its_key_or_with_wrong_aad_is_a_clear_error() -> None:
    blob = KeyRing.generate().seal(b"secret", aad=b"a")
    with pytest.raises(CryptoError, match="no key"):
        KeyRing.generate().open(blob, aad=b"a")
    ring = KeyRing.generate()
    with pytest.raises(CryptoError, match="authentication"):
        ring.open(ring.seal(b"secret", aad=b"a"), aad=b"b")
