"""Retention: each table's rule deletes exactly the dead rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from activities.effects import records as effect_records
from activities.guard import ResourceGuard
from activities.guard import claims as guard_claims
from orchestrator.alerts.models import deliveries, receipts
from orchestrator.console.models import sessions
from orchestrator.correlation.models import entity_claims
from orchestrator.correlation.service import Entity, _claim
from orchestrator.db import make_engine, upgrade
from orchestrator.errors import Unavailable
from orchestrator.leases import Lease
from orchestrator.retention import LEASE, Pruner, count_dead, periodic_prune, prune
from orchestrator.settings import Settings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)
TABLES = ["entity_claims", "guard_claims", "effect_records", "webhook_deliveries"]
TABLES.append("console_sessions")


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    upgrade(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def settings(**values: object) -> Settings:
    return Settings(**{"guard_window_seconds": 3600, "retention_days": 90, **values})


def claim(key: str, expires_at: datetime) -> dict[str, object]:
    return {
        "key": key,
        "environment": "prod",
        "kind": "api_key",
        "value": key,
        "workflow_id": f"incident-{key}",
        "rule": "r",
        "window_seconds": 600,
        "claimed_at": expires_at - timedelta(seconds=600),
        "expires_at": expires_at,
    }


def seed(engine: sa.Engine) -> None:
    """In each table: a row dead by one microsecond, one exactly at the boundary, one live."""
    window, retention = timedelta(hours=1), timedelta(days=90)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(entity_claims),
            [claim("dead", NOW - TICK), claim("edge", NOW), claim("live", NOW + window)],
        )
        conn.execute(
            sa.insert(guard_claims),
            [
                {"resource": r, "incident_id": "A", "action": "revoke_key", "claimed_at": at}
                for r, at in (
                    ("dead", NOW - window - TICK),
                    ("edge", NOW - window),
                    ("live", NOW - timedelta(minutes=5)),
                )
            ],
        )
        conn.execute(
            sa.insert(effect_records),
            [
                {"operation": "keys.revoke", "idempotency_key": k, "result": {}, "recorded_at": at}
                for k, at in (
                    ("dead", NOW - retention - TICK),
                    ("edge", NOW - retention),
                    ("live", NOW - timedelta(days=1)),
                )
            ],
        )
        conn.execute(
            sa.insert(deliveries),
            [
                {"key": k, "body_sha256": "0" * 64, "response": None, "received_at": at}
                for k, at in (
                    ("dead", NOW - retention - TICK),
                    ("edge", NOW - retention),
                    ("live", NOW),
                )
            ],
        )
        conn.execute(
            sa.text(
                "INSERT INTO principals (id, name, role, environments, token_prefix,"
                " token_hash, created_at) VALUES ('p1', 'ann', 'responder', '[]', 'fb_',"
                " 'h', :at)"
            ),
            {"at": NOW},
        )
        conn.execute(
            sa.insert(sessions),
            [
                {
                    "id_hash": k,
                    "principal_id": "p1",
                    "csrf_token": "t",
                    "created_at": at - timedelta(hours=8),
                    "expires_at": at,
                }
                for k, at in (("dead", NOW - TICK), ("edge", NOW), ("live", NOW + window))
            ],
        )
        # History next to them that retention must never touch, however old.
        conn.execute(
            sa.insert(receipts),
            {
                "key": "old",
                "incident_id": "i",
                "workflow_id": "w",
                "received_at": NOW - 10 * retention,
            },
        )


def keys(engine: sa.Engine) -> dict[str, set[str]]:
    columns = {
        "entity_claims": entity_claims.c.key,
        "guard_claims": guard_claims.c.resource,
        "effect_records": effect_records.c.idempotency_key,
        "webhook_deliveries": deliveries.c.key,
        "console_sessions": sessions.c.id_hash,
        "alert_receipts": receipts.c.key,
    }
    with engine.connect() as conn:
        return {name: set(conn.execute(sa.select(c)).scalars()) for name, c in columns.items()}


def test_each_rule_deletes_only_the_dead_rows(engine: sa.Engine) -> None:
    seed(engine)
    assert count_dead(engine, settings(), NOW) == dict.fromkeys(TABLES, 1)
    assert keys(engine)["entity_claims"] == {"dead", "edge", "live"}  # the dry run deleted none
    assert prune(engine, settings(), NOW) == dict.fromkeys(TABLES, 1)
    left = keys(engine)
    for table in TABLES:
        assert left[table] == {"edge", "live"}, table
    assert left["alert_receipts"] == {"old"}
    assert prune(engine, settings(), NOW) == dict.fromkeys(TABLES, 0)


def test_the_windows_come_from_the_settings(engine: sa.Engine) -> None:
    seed(engine)
    later = NOW + timedelta(days=1)
    # A day later with a 1-day retention and a 2-day guard window: claims and sessions that
    # were live have expired, every effect record and delivery but today's is past retention,
    # and the guard keeps all three claims.
    counts = prune(engine, settings(retention_days=1, guard_window_seconds=2 * 86400), later)
    assert counts == {
        "entity_claims": 3,
        "guard_claims": 0,
        "effect_records": 3,
        "webhook_deliveries": 2,
        "console_sessions": 3,
    }
    assert keys(engine)["webhook_deliveries"] == {"live"}


def test_deletes_run_in_batches_until_none_is_dead(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(effect_records),
            [
                {
                    "operation": f"op{i % 2}",
                    "idempotency_key": f"k{i}",
                    "result": {"i": i},
                    "recorded_at": NOW - timedelta(days=91 if i < 7 else 1),
                }
                for i in range(10)
            ],
        )
    assert prune(engine, settings(), NOW, batch_size=2)["effect_records"] == 7
    assert keys(engine)["effect_records"] == {"k7", "k8", "k9"}


def test_a_claim_the_guard_takes_over_again_survives(engine: sa.Engine) -> None:
    """The prune and a new claim on the same dead row: whichever runs first, the new claim
    stands (the delete re-checks the row is dead; a claim on a deleted row inserts it)."""
    guard = ResourceGuard(engine, 3600, clock=lambda: NOW)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(guard_claims),
            [
                {"resource": r, "incident_id": "A", "action": "revoke_key", "claimed_at": at}
                for r, at in (
                    ("before", NOW - timedelta(hours=2)),
                    ("after", NOW - timedelta(hours=2)),
                )
            ],
        )
    assert guard.claim("before", "B", "revoke_key") is True  # taken over, then pruned
    assert prune(engine, settings(), NOW)["guard_claims"] == 1  # only "after" was still dead
    assert guard.claim("after", "B", "revoke_key") is True  # pruned, then claimed anew
    held = guard.check("before", "C"), guard.check("after", "C")
    assert [h.incident_id if h else None for h in held] == ["B", "B"]


def test_a_takeover_committing_during_the_delete_is_not_lost(pg_url: str) -> None:
    """PostgreSQL: a transaction renews a dead entity claim and holds its row lock while the
    prune's DELETE waits on it; once it commits, the DELETE re-checks the row and keeps it."""
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(entity_claims), [claim("k", NOW - timedelta(minutes=1))])
        renewing = engine.connect()
        renewing.begin()
        renewing.execute(
            sa.update(entity_claims)
            .where(entity_claims.c.key == "k")
            .values(expires_at=NOW + timedelta(hours=1))
        )
        result: dict[str, int] = {}
        pruning = threading.Thread(target=lambda: result.update(prune(engine, settings(), NOW)))
        pruning.start()
        with engine.connect() as watch:  # wait until the DELETE is blocked on the row lock
            for _ in range(600):
                waiting = watch.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND query LIKE 'DELETE FROM entity_claims%'"
                    )
                ).scalar_one()
                watch.commit()
                if waiting:
                    break
                threading.Event().wait(0.05)
        assert waiting == 1
        renewing.commit()
        renewing.close()
        pruning.join(60)
        assert result["entity_claims"] == 0
        assert keys(engine)["entity_claims"] == {"k"}
    finally:
        engine.dispose()


def test_one_process_prunes_at_a_time_on_postgresql(pg_url: str) -> None:
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(entity_claims), [claim("k", NOW - TICK)])
        other = Lease(engine, LEASE)
        assert other.leads()
        pruner = Pruner(engine, settings(), clock=lambda: NOW)
        assert pruner.round() is None  # another process leads: nothing done
        assert keys(engine)["entity_claims"] == {"k"}
        other.release()
        assert pruner.round() == {**dict.fromkeys(TABLES, 0), "entity_claims": 1}
        assert not Lease(engine, LEASE).leads()  # and it keeps the lease for its next rounds
    finally:
        engine.dispose()


async def test_the_scheduled_prune_survives_a_database_outage(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    """A store without the schema (as after a restore gone wrong) pauses the prune, said once,
    and the task keeps running for the next round."""
    url = f"sqlite:///{tmp_path}/empty.db"
    engine = make_engine(url)
    try:
        task = asyncio.create_task(Pruner(engine, settings()).run(0.05))
        await asyncio.sleep(0.5)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        engine.dispose()
    paused = [r.getMessage() for r in caplog.records if "prune paused" in r.getMessage()]
    assert paused == [
        "retention prune paused: the event store has no schema yet: run `firebreak db upgrade`"
    ]


def test_an_unmigrated_store_is_a_clear_error(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/empty.db")
    try:
        with pytest.raises(Unavailable, match="has no schema yet"):
            prune(engine, settings(), NOW)
    finally:
        engine.dispose()


def test_the_retention_never_undercuts_the_webhook_tolerance() -> None:
    with pytest.raises(ValueError, match="shorter than FIREBREAK_WEBHOOK_TOLERANCE_SECONDS"):
        Settings(webhook_tolerance_seconds=2 * 86400, retention_days=1)


async def test_the_worker_side_prune_runs_on_its_schedule(engine: sa.Engine, db_url: str) -> None:
    """`periodic_prune` (what `firebreak worker` and `firebreak up` run) deletes a row that
    died after its first round, at a later round; with an interval of 0 it never runs."""
    with engine.begin() as conn:
        conn.execute(
            sa.insert(entity_claims), [claim("soon", datetime.now(UTC) + timedelta(seconds=1.5))]
        )
    off = Settings(database_url=db_url, prune_interval_seconds=0)
    async with periodic_prune(off):
        await asyncio.sleep(3)
    assert keys(engine)["entity_claims"] == {"soon"}
    async with periodic_prune(Settings(database_url=db_url, prune_interval_seconds=1)):
        for _ in range(300):
            if not keys(engine)["entity_claims"]:
                break
            await asyncio.sleep(0.1)
    assert keys(engine)["entity_claims"] == set()


def test_an_entity_claim_pruned_in_the_middle_of_its_take_over_is_claimed_again(
    pg_url: str,
) -> None:
    """PostgreSQL: an alert's insert runs into an expired entity row, the prune deletes that
    row before the take-over reads it, and the alert still claims the entity (a new row)."""
    upgrade(pg_url)
    engine, pruning = make_engine(pg_url), make_engine(pg_url)
    key = "k" * 64
    pruned: dict[str, int] = {}

    def prune_first(conn: object, cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("UPDATE entity_claims SET workflow_id") and not pruned:
            pruned.update(prune(pruning, settings(), NOW))

    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(entity_claims), [claim(key, NOW - timedelta(minutes=1))])
        sa.event.listen(engine, "before_cursor_execute", prune_first)
        entity = Entity(key=key, environment="prod", kind="api_key", value="k")
        with engine.begin() as conn:
            holder = _claim(conn, entity, "incident-new", "r", 600, NOW)
        assert pruned["entity_claims"] == 1  # the race happened
        assert holder == "incident-new"
        with engine.connect() as conn:
            row = conn.execute(sa.select(entity_claims).where(entity_claims.c.key == key)).one()
        assert (row.workflow_id, row.expires_at) == ("incident-new", NOW + timedelta(seconds=600))
    finally:
        sa.event.remove(engine, "before_cursor_execute", prune_first)
        engine.dispose()
        pruning.dispose()
