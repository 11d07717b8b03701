"""`firebreak db`, `firebreak audit` and `firebreak keys` against a real database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from orchestrator.audit import open_event_store
from orchestrator.cli.main import app
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import load_settings
from tests.support.events import new_event

FIREBREAK = str(Path(sys.executable).parent / "firebreak")


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"FIREBREAK_DATA_DIR": str(tmp_path / "data"), "FIREBREAK_DATABASE_URL": db_url}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def seed() -> None:
    store = open_event_store(load_settings())
    for i in range(5):
        store.append(
            f"inc-{i % 2}",
            [new_event("StepApproved" if i == 3 else "StepStarted", payload={"i": i})],
        )
    store.engine.dispose()


def test_db_upgrade_current_downgrade(env: dict[str, str]) -> None:
    code, out, _ = run("db", "current")
    assert (code, out.splitlines()[0]) == (0, "current: base")
    code, out, _ = run("db", "upgrade")
    assert code == 0 and "database at revision" in out
    code, out, _ = run("db", "current")
    lines = out.splitlines()
    assert lines[0].removeprefix("current: ") == lines[1].removeprefix("head: ")
    code, out, _ = run("db", "downgrade", "base")
    assert (code, out.strip()) == (0, "database at revision base")


def test_verify_checkpoint_and_public_key(env: dict[str, str], tmp_path: Path) -> None:
    run("db", "upgrade")
    seed()
    code, out, _ = run("audit", "checkpoint")
    assert code == 0 and out.startswith("checkpoint at position 5 head ")
    code, out, _ = run("audit", "verify")
    assert code == 0 and out.startswith("intact: 5 events")
    code, pem, _ = run("audit", "public-key")
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    key_file = tmp_path / "auditor.pem"
    key_file.write_text(pem)
    code, out, _ = run("audit", "verify", "--json", "--public-key", str(key_file))
    report = json.loads(out)
    assert (code, report["ok"], report["checkpoints_checked"]) == (0, True, 1)


def test_verify_exits_1_naming_the_tampered_position(env: dict[str, str], db_url: str) -> None:
    run("db", "upgrade")
    seed()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql("DELETE FROM audit_events WHERE position = 2")
    engine.dispose()
    code, out, _ = run("audit", "verify")
    assert code == 1
    assert out.startswith("TAMPERED at position 2:")
    code, out, _ = run("audit", "verify", "--json")
    assert (code, json.loads(out)["first_bad_position"]) == (1, 2)


def test_verify_exits_2_when_it_cannot_check(env: dict[str, str]) -> None:
    code, _, err = run("audit", "verify")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("firebreak: ")
    assert "run `firebreak db upgrade`" in err


def test_query_and_export(env: dict[str, str], tmp_path: Path) -> None:
    run("db", "upgrade")
    seed()
    code, out, err = run("audit", "query", "--stream", "inc-1")
    assert code == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == ["2", "4"]
    code, out, _ = run("audit", "query", "--type", "StepApproved", "--json")
    assert [json.loads(line)["payload"]["i"] for line in out.splitlines()] == [3]
    code, out, err = run("audit", "query", "--limit", "2", "--after", "1")
    assert [line.split("\t")[0] for line in out.splitlines()] == ["2", "3"]
    assert "more: --after 3" in err
    target = tmp_path / "export.jsonl"
    code, _, err = run("audit", "export", "--out", str(target), "--since", "2000-01-01T00:00:00Z")
    assert code == 0 and "exported 5 events" in err
    assert [json.loads(line)["position"] for line in target.read_text().splitlines()] == [
        1,
        2,
        3,
        4,
        5,
    ]
    code, out, _ = run("audit", "export", "--out", "-", "--actor", "nobody")
    assert (code, out) == (0, "")


def test_keys_rotate_adds_a_current_key(env: dict[str, str]) -> None:
    path = load_settings().keyring_path
    first = KeyRing.load_or_create(path)
    code, out, _ = run("keys", "rotate")
    rotated = KeyRing.load(path)
    assert code == 0 and rotated.current in out
    assert rotated.current != first.current
    assert first.keys.items() <= rotated.keys.items()
    assert path.stat().st_mode & 0o777 == 0o600


def test_user_mistakes_are_one_line_without_traceback(env: dict[str, str]) -> None:
    proc = subprocess.run(
        [FIREBREAK, "audit", "query", "--since", "last tuesday"],
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode != 0
    assert proc.stderr == "firebreak: --since: not an ISO 8601 date/time: 'last tuesday'\n"
