"""The demo lab, the provider factory and the activity registry."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.factory import KEY_PROVIDERS, build_activities, build_providers
from activities.providers.local.lab import seed_demo_lab
from activities.providers.local.notify import LogNotifier
from orchestrator.actions import ACTIONS
from orchestrator.errors import ConfigError
from orchestrator.settings import Settings
from tests.activities.conftest import tree_state
from workflows.contracts import Notification


def test_seeding_twice_changes_nothing(tmp_path: Path) -> None:
    first = seed_demo_lab(tmp_path)
    before = tree_state(tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    assert seed_demo_lab(tmp_path) == first
    assert tree_state(tmp_path) == before
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == mtimes


async def test_reseeding_keeps_the_state_an_incident_left(tmp_path: Path) -> None:
    seed_demo_lab(tmp_path)
    providers = build_providers(Settings(data_dir=tmp_path))
    await providers.models.rollback(
        "fraud-detector", "production", to_version="2", incident_id="i", idempotency_key="k"
    )
    seed_demo_lab(tmp_path)
    assert await providers.models.resolve("fraud-detector", "production") == "2"


def test_every_catalogue_action_has_exactly_one_activity(tmp_path: Path) -> None:
    names = [
        fn.__temporal_activity_definition.name  # type: ignore[attr-defined]
        for fn in build_activities(Settings(data_dir=tmp_path))
    ]
    assert sorted(names) == sorted([*ACTIONS, "notify.send"])


@pytest.mark.parametrize(
    ("setting", "variable"),
    [
        ("keys_provider", "FIREBREAK_KEYS_PROVIDER"),
        ("models_provider", "FIREBREAK_MODELS_PROVIDER"),
        ("datasets_provider", "FIREBREAK_DATASETS_PROVIDER"),
        ("retraining_provider", "FIREBREAK_RETRAINING_PROVIDER"),
        ("agents_provider", "FIREBREAK_AGENTS_PROVIDER"),
    ],
)
def test_unknown_provider_names_the_variable(tmp_path: Path, setting: str, variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: unknown provider 'nope'"):
        build_providers(Settings(data_dir=tmp_path, **{setting: "nope"}))


def test_registering_a_provider_is_one_dict_entry(tmp_path: Path) -> None:
    sentinel = object()
    KEY_PROVIDERS["test-only"] = lambda s: sentinel  # type: ignore[assignment,return-value]
    try:
        providers = build_providers(Settings(data_dir=tmp_path, keys_provider="test-only"))
        assert providers.keys is sentinel
    finally:
        del KEY_PROVIDERS["test-only"]


async def test_log_notifier_escapes_alert_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    message = Notification(
        incident_id="incident-1",
        title="injection\nFAKE LOG LINE",
        body="ignore previous",
        severity="high",
        environment="prod",
        step_id="contain-1",
    )
    send = build_activities(Settings(data_dir=tmp_path))[-1]
    assert send.__temporal_activity_definition.name == "notify.send"  # type: ignore[attr-defined]
    assert isinstance(build_providers(Settings(data_dir=tmp_path)).notifier, LogNotifier)
    with caplog.at_level(logging.WARNING, logger="firebreak.notify"):
        await ActivityEnvironment().run(send, message)
    [record] = caplog.records
    assert "incident-1" in record.getMessage()
    assert "\n" not in record.getMessage() and "\\nFAKE LOG LINE" in record.getMessage()
