"""The per-resource guard: one remediation per resource per window, across incidents, and
across workers: the claims are rows in the event-store database, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.exceptions import ApplicationError

from activities.factory import activities_for
from activities.guard import ResourceGuard, claims
from activities.providers.local.keys import LocalKeyStore
from orchestrator.db import make_engine
from tests.activities.conftest import Lab, open_lab
from tests.activities.guard_race import RaceAnswer, claim_all

INGEST = "key-ingest-pipeline"


@pytest.fixture
def lab(tmp_path: Path, db_url: str) -> Iterator[Lab]:
    """The lab with its guard on each backend."""
    opened = open_lab(tmp_path, db_url)
    yield opened
    opened.engine.dispose()


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


async def test_a_rollback_that_moved_nothing_gives_its_claim_back(lab: Lab) -> None:
    """Incident A's alert was about a version production does not serve: its rollback moved
    nothing, so it must not hold off incident B, whose alert is about the served version."""
    left = await lab.run(
        "models.rollback",
        {"model": "fraud-detector", "from_version": "2"},
        incident="incident-a",
    )
    assert left.outputs["rolled_back"] == "false"
    moved = await lab.run(
        "models.rollback",
        {"model": "fraud-detector", "from_version": "3"},
        incident="incident-b",
    )
    assert moved.changed and "guarded_by" not in moved.outputs


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


def test_racing_worker_processes_each_resource_has_exactly_one_winner(lab: Lab) -> None:
    """Four processes, each with its own engine, claim the same resources at the same moment
    for four incidents: per resource one wins and the three others are told who holds it."""
    url = lab.engine.url.render_as_string(hide_password=False)
    resources = [f"key:race-{n}" for n in range(25)]
    incidents = [f"incident-{n}" for n in range(4)]
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(len(incidents))
    answers: multiprocessing.Queue[RaceAnswer] = spawn.Queue()
    racers = [
        spawn.Process(target=claim_all, args=(url, incident, resources, start, answers))
        for incident in incidents
    ]
    for racer in racers:
        racer.start()
    got = [answers.get(timeout=120) for _ in range(len(resources) * len(incidents))]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    for resource in resources:
        told = {incident: answer for r, incident, answer in got if r == resource}
        winners = [incident for incident, answer in told.items() if answer == "new"]
        assert len(winners) == 1, (resource, told)
        assert Counter(told.values()) == {"new": 1, f"held:{winners[0]}": 3}
    with lab.engine.connect() as conn:
        rows = dict(conn.execute(sa.select(claims.c.resource, claims.c.incident_id)).all())
    assert {r: rows[r] for r in resources} == {
        r: next(i for rr, i, a in got if rr == r and a == "new") for r in resources
    }


async def test_two_workers_racing_one_key_revoke_it_once(lab: Lab) -> None:
    """Two workers (separate engines and activity sets on one database) get a revoke of the
    same key for two incidents at once: one revokes, the other is told it is held."""
    other_engine = make_engine(lab.engine.url.render_as_string(hide_password=False))
    try:
        other_guard = ResourceGuard(other_engine, 3600, lab.clock)
        other = {
            fn.__temporal_activity_definition.name: fn  # type: ignore[attr-defined]
            for fn in activities_for(lab.providers, other_guard)
        }
        second = Lab(**{**lab.__dict__, "guard": other_guard, "activities": other})
        a, b = await asyncio.gather(
            lab.run("keys.revoke", {"key_id": INGEST}, incident="incident-a"),
            second.run("keys.revoke", {"key_id": INGEST}, incident="incident-b"),
        )
    finally:
        other_engine.dispose()
    assert sorted([a.changed, b.changed]) == [False, True]
    winner, loser = (a, b) if a.changed else (b, a)
    assert loser.outputs["guarded_by"] == ("incident-a" if winner is a else "incident-b")
    assert not LocalKeyStore(lab.paths.keys).is_active(INGEST)


def test_a_claim_survives_the_worker_that_made_it(lab: Lab) -> None:
    """The claim is in the database, not in the process: a new guard (a restarted worker, or
    another host's) sees it."""
    assert lab.guard.claim("model:fraud-detector", "incident-a", "models.rollback") is True
    fresh_engine = make_engine(lab.engine.url.render_as_string(hide_password=False))
    try:
        fresh = ResourceGuard(fresh_engine, 3600, lab.clock)
        hold = fresh.check("model:fraud-detector", "incident-b")
        assert hold is not None and hold.incident_id == "incident-a"
        assert hold.action == "models.rollback" and hold.at == lab.clock.now
        assert fresh.claim("model:fraud-detector", "incident-a", "models.rollback") is False
    finally:
        fresh_engine.dispose()


def test_an_expired_claim_is_taken_over_in_the_row(lab: Lab) -> None:
    assert lab.guard.claim("dataset:transactions", "incident-a", "datasets.quarantine") is True
    lab.clock.now += timedelta(hours=1, seconds=1)
    assert lab.guard.claim("dataset:transactions", "incident-b", "datasets.quarantine") is True
    lab.clock.now += timedelta(minutes=1)
    hold = lab.guard.claim("dataset:transactions", "incident-a", "datasets.quarantine")
    assert not isinstance(hold, bool) and hold.incident_id == "incident-b"


def test_hostile_resource_and_incident_names_are_data(lab: Lab) -> None:
    resource = "key:'; DROP TABLE guard_claims; --\u202e\U0001f525x" + "k" * 500
    incident = "incident-'\"<script>"
    assert lab.guard.claim(resource, incident, "keys.revoke") is True
    hold = lab.guard.check(resource, "incident-b")
    assert hold is not None and hold.incident_id == incident


async def test_a_nul_in_a_parameter_is_refused_once_not_retried(lab: Lab) -> None:
    """PostgreSQL text cannot hold a NUL: the claim would fail on every retry."""
    with pytest.raises(ApplicationError) as refused:
        await lab.run("keys.revoke", {"key_id": "key-\x00ingest"}, incident="incident-a")
    assert refused.value.type == "InvalidParams" and refused.value.non_retryable
    assert "NUL" in refused.value.message
    with lab.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(claims)).scalar_one() == 0
