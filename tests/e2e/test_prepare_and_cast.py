"""Preparation (`firebreak up` before it serves) and the demo's principals, on both stores."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator.db import current_revision, head_revision, make_engine
from orchestrator.demo.cast import ALICE, AUDITOR, BOB, SOURCE, create_cast
from orchestrator.demo.client import DemoFailed
from orchestrator.demo.runner import DemoOptions, run_demo
from orchestrator.demo.webhooks import signed_headers
from orchestrator.domain import Role
from orchestrator.principals.service import active_webhook_secrets, authenticate
from orchestrator.runtime.prepare import prepare
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import Settings
from tests.support.ports import free_port


def _settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


def test_first_run_migrates_and_creates_one_admin(tmp_path: Path, db_url: str) -> None:
    settings = _settings(tmp_path, db_url)
    first = prepare(settings)
    assert current_revision(db_url) == head_revision()
    assert settings.keyring_path.is_file()
    assert first.admin_token is not None
    assert stat.S_IMODE(first.admin_token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.data_dir.stat().st_mode) == 0o700
    assert first.admin_token_file.read_text().strip() == first.admin_token
    engine = make_engine(db_url)
    try:
        admin = authenticate(engine, first.admin_token)
        assert admin is not None and admin.role is Role.admin
        again = prepare(settings)
        assert again.admin_token is None  # shown once: a restart never prints or replaces it
        assert first.admin_token_file.read_text().strip() == first.admin_token
        assert authenticate(engine, first.admin_token) is not None
    finally:
        engine.dispose()


def test_demo_cast_is_recreated_and_old_tokens_stop_working(tmp_path: Path, db_url: str) -> None:
    settings = _settings(tmp_path, db_url)
    prepare(settings)
    first = create_cast(settings)
    second = create_cast(settings)
    engine = make_engine(db_url)
    try:
        for name, role in ((SOURCE, Role.source), (ALICE, Role.responder), (AUDITOR, Role.auditor)):
            assert authenticate(engine, first.tokens[name]) is None
            principal = authenticate(engine, second.tokens[name])
            assert principal is not None and principal.role is role
            assert stat.S_IMODE(second.token_file(name).stat().st_mode) == 0o600
            assert second.token_file(name).read_text().strip() == second.tokens[name]
        bob = authenticate(engine, second.tokens[BOB])
        assert bob is not None and {e.value for e in bob.environments} == {"prod"}
        ring = KeyRing.load(settings.keyring_path)
        keys = active_webhook_secrets(engine, ring, second.ids[SOURCE])
        assert len(keys) == 1
    finally:
        engine.dispose()


def test_signature_matches_the_standard_webhooks_reference_vector() -> None:
    # The example from the Standard Webhooks specification (standard-webhooks/spec).
    headers = signed_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


async def test_demo_without_keys_names_the_data_dir(tmp_path: Path) -> None:
    options = DemoOptions(Settings(data_dir=tmp_path / "elsewhere"))
    with pytest.raises(DemoFailed, match="run the demo with the same FIREBREAK_DATA_DIR"):
        await run_demo(options, Console())


async def test_demo_without_api_asks_whether_up_runs(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", api_url=f"http://127.0.0.1:{free_port()}")
    prepare(settings)
    with pytest.raises(DemoFailed, match="is `firebreak up` running"):
        await run_demo(DemoOptions(settings), Console())
    assert not (settings.data_dir / "demo").exists()  # nothing created before the API answered


def test_second_data_dir_on_a_shared_database_keeps_the_first_admin(
    tmp_path: Path, pg_url: str
) -> None:
    first = prepare(Settings(data_dir=tmp_path / "host-a", database_url=pg_url))
    keys = tmp_path / "host-a" / "keys" / "keyring.json"
    second = prepare(Settings(data_dir=tmp_path / "host-b", database_url=pg_url, keyring_file=keys))
    assert first.admin_token is not None
    assert second.admin_token is None
    assert not second.admin_token_file.exists()
