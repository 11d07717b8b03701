"""The per-resource guard: one remediation per resource per window, across incidents."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities.providers.local.keys import LocalKeyStore
from tests.activities.conftest import Lab

INGEST = "key-ingest-pipeline"


async def test_second_incident_within_the_window_is_refused(lab: Lab) -> None:
    store = LocalKeyStore(lab.paths.keys)
    first = await lab.run("keys.revoke", {"key_id": INGEST}, incident="incident-a")
    await lab.run("keys.restore", {"key_id": INGEST}, incident="incident-a")
    lab.clock.now += timedelta(minutes=30)
    second = await lab.run("keys.revoke", {"key_id": INGEST}, incident="incident-b")
    assert first.changed and not second.changed
    assert "already remediated by incident incident-a" in second.summary
    assert "2026-03-01T12:00:00" in second.summary
    assert second.outputs["guarded_by"] == "incident-a"
    assert second.inverse_params is None
    assert store.is_active(INGEST), "the guard must have kept incident-b from revoking"


async def test_the_same_incident_is_never_blocked(lab: Lab) -> None:
    await lab.run("models.rollback", {"model": "fraud-detector"}, incident="incident-a")
    run = await lab.run(
        "retraining.run",
        {"model": "fraud-detector", "dataset": "transactions"},
        incident="incident-a",
    )
    assert run.changed and "guarded_by" not in run.outputs


async def test_after_the_window_another_incident_may_act(lab: Lab) -> None:
    await lab.run("keys.revoke", {"key_id": INGEST}, incident="incident-a")
    await lab.run("keys.restore", {"key_id": INGEST}, incident="incident-a")
    lab.clock.now += timedelta(seconds=3600)
    second = await lab.run("keys.revoke", {"key_id": INGEST}, incident="incident-b")
    assert second.changed


async def test_guard_applies_per_resource(lab: Lab) -> None:
    await lab.run("keys.revoke", {"key_id": INGEST}, incident="incident-a")
    other = await lab.run("keys.revoke", {"key_id": "key-analytics"}, incident="incident-b")
    assert other.changed


async def test_a_failed_effect_withdraws_its_claim(lab: Lab) -> None:
    with pytest.raises(ApplicationError):
        await lab.run(
            "models.rollback",
            {"model": "fraud-detector", "to_version": "99"},
            incident="incident-a",
        )
    moved = await lab.run("models.rollback", {"model": "fraud-detector"}, incident="incident-b")
    assert moved.changed


async def test_a_failure_keeps_an_earlier_successful_claim(lab: Lab) -> None:
    await lab.run("models.rollback", {"model": "fraud-detector"}, incident="incident-a")
    with pytest.raises(ApplicationError):
        await lab.run(
            "models.rollback",
            {"model": "fraud-detector", "to_version": "99"},
            incident="incident-a",
            key="later-step",
        )
    blocked = await lab.run("models.rollback", {"model": "fraud-detector"}, incident="incident-b")
    assert not blocked.changed and blocked.outputs["guarded_by"] == "incident-a"


async def test_dry_run_reports_the_guard_without_claiming(lab: Lab) -> None:
    preview = await lab.run("keys.revoke", {"key_id": INGEST}, incident="incident-b", dry_run=True)
    assert preview.summary.startswith("dry run")
    real = await lab.run("keys.revoke", {"key_id": INGEST}, incident="incident-a")
    assert real.changed
    blocked_preview = await lab.run(
        "keys.revoke", {"key_id": INGEST}, incident="incident-b", dry_run=True
    )
    assert "already remediated by incident incident-a" in blocked_preview.summary


async def test_an_incident_cannot_undo_another_incidents_remediation(lab: Lab) -> None:
    """B's revoke was refused by the guard; B's abort/recovery must not restore A's revoke."""
    store = LocalKeyStore(lab.paths.keys)
    await lab.run("keys.revoke", {"key_id": INGEST}, incident="incident-a")
    await lab.run("keys.revoke", {"key_id": INGEST}, incident="incident-b")
    undo = await lab.run("keys.restore", {"key_id": INGEST}, incident="incident-b")
    assert not undo.changed and "only that incident may undo it" in undo.summary
    assert not store.is_active(INGEST)
    own = await lab.run("keys.restore", {"key_id": INGEST}, incident="incident-a")
    assert own.changed and store.is_active(INGEST)


@pytest.mark.parametrize(
    ("remediate", "undo", "params"),
    [
        ("models.rollback", "models.restore", {"model": "fraud-detector"}),
        ("datasets.quarantine", "datasets.release", {"dataset": "transactions"}),
        (
            "agents.suspend_tool",
            "agents.restore_tool",
            {"agent": "support-bot", "tool": "send_email"},
        ),
    ],
)
async def test_every_inverse_respects_the_holder(
    lab: Lab, remediate: str, undo: str, params: dict[str, str]
) -> None:
    done = await lab.run(remediate, params, incident="incident-a")
    assert done.inverse_params is not None
    refused = await lab.run(undo, done.inverse_params, incident="incident-b")
    assert not refused.changed and refused.outputs["guarded_by"] == "incident-a"
    lab.clock.now += timedelta(hours=2)
    allowed = await lab.run(undo, done.inverse_params, incident="incident-b")
    assert allowed.changed
