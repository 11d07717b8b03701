"""`firebreak db prune` against a real database: counts per table, a dry run, JSON, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from activities.effects import records
from orchestrator.db import make_engine, upgrade
from orchestrator.retention import rules
from orchestrator.settings import Settings
from tests.cli.test_db_audit_keys import run

FIREBREAK = str(Path(sys.executable).parent / "firebreak")
TABLES = [rule.name for rule in rules(Settings())]


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"FIREBREAK_DATA_DIR": str(tmp_path / "data"), "FIREBREAK_DATABASE_URL": db_url}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    upgrade(db_url)
    now = datetime.now(UTC)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(records),
            [
                {"operation": "keys.revoke", "idempotency_key": k, "result": {}, "recorded_at": at}
                for k, at in (
                    ("old", now - timedelta(days=91)),
                    ("older", now - timedelta(days=400)),
                    ("recent", now - timedelta(days=89)),
                )
            ],
        )
    engine.dispose()
    return values


def left(db_url: str) -> set[str]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.select(records.c.idempotency_key)).scalars())
    finally:
        engine.dispose()


def test_prune_prints_each_table_and_deletes_the_dead_rows(env: dict[str, str]) -> None:
    code, out, _ = run("db", "prune", "--dry-run")
    assert code == 0
    assert out.splitlines() == [
        "entity_claims       0",
        "guard_claims        0",
        "effect_records      2",
        "webhook_deliveries  0",
        "console_sessions    0",
        "would delete 2 rows",
    ]
    assert left(env["FIREBREAK_DATABASE_URL"]) == {"old", "older", "recent"}
    code, out, _ = run("db", "prune")
    assert code == 0
    assert out.splitlines()[-1] == "deleted 2 rows"
    assert left(env["FIREBREAK_DATABASE_URL"]) == {"recent"}


def test_prune_as_json_honours_the_retention(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIREBREAK_RETENTION_DAYS", "30")
    code, out, _ = run("db", "prune", "--json", "--dry-run")
    assert code == 0
    counts = {**dict.fromkeys(TABLES, 0), "effect_records": 3}
    assert json.loads(out) == {"dry_run": True, "tables": counts}
    code, out, _ = run("db", "prune", "--json")
    assert json.loads(out) == {"dry_run": False, "tables": counts}
    assert left(env["FIREBREAK_DATABASE_URL"]) == set()


def test_prune_errors_are_one_line(tmp_path: Path) -> None:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_")}
    base = {**inherited, "FIREBREAK_DATA_DIR": str(tmp_path)}
    unmigrated = subprocess.run(
        [FIREBREAK, "db", "prune"], env=base, capture_output=True, text=True, timeout=120
    )
    assert unmigrated.returncode == 2
    assert unmigrated.stderr == (
        f"firebreak: no database at {tmp_path / 'firebreak.db'}: run `firebreak db upgrade` "
        "to create it\n"
    )
    too_short = subprocess.run(
        [FIREBREAK, "db", "prune", "--dry-run"],
        env={
            **base,
            "FIREBREAK_RETENTION_DAYS": "1",
            "FIREBREAK_WEBHOOK_TOLERANCE_SECONDS": "90000",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert too_short.returncode == 2
    assert too_short.stderr == (
        "firebreak: FIREBREAK_RETENTION_DAYS: Value error, 1 days is shorter than"
        " FIREBREAK_WEBHOOK_TOLERANCE_SECONDS (90000s): a pruned delivery id could be replayed\n"
    )
