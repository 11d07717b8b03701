"""`firebreak detect run|baselines` as users run them: a dry run over a file, the baselines it
left in the database, and one line with exit 2 for each mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator import db
from tests.cli.test_incidents_approvals import run_main
from tests.detection.streams import benign


@pytest.fixture
def database(migrated_sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("FIREBREAK_DATABASE_URL", migrated_sqlite_url)
    monkeypatch.setenv("FIREBREAK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FIREBREAK_DETECT_TOKEN", raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    return migrated_sqlite_url


def gateway_log(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.jsonl"
    with path.open("w") as out:
        for event in benign(5, 2, seed=61):
            record = {
                "at": event.at.isoformat(),
                "caller": event.caller,
                "api_key": event.api_key,
                "network": event.network,
                "model": event.model,
                "input_tokens": event.input_tokens,
            }
            out.write(json.dumps(record) + "\n")
        out.write("this line is not JSON\n")
        canary = {"at": "2026-11-04T10:00:00Z", "caller": "mallory", "marker": "canary:x"}
        out.write(json.dumps(canary) + "\n")
    return path


def test_a_dry_run_reads_a_log_and_leaves_baselines(database: str, tmp_path: Path) -> None:
    log = gateway_log(tmp_path)
    ran = run_main(["detect", "run", "--input", f"jsonl:{log}", "--dry-run"])
    assert ran.exit_code == 0, ran.error
    summary = ran.error.splitlines()[-1]
    assert "1 detections (injection 1)" in summary
    assert "1 unreadable lines" in summary

    listed = run_main(["detect", "baselines", "--detector", "leaked_key", "--json"])
    assert listed.exit_code == 0, listed.error
    rows = json.loads(listed.output)["baselines"]
    assert {r["subject"] for r in rows} == {f"key-{i}" for i in range(5)}
    assert all(r["state"]["events"] > 0 for r in rows)

    table = run_main(["detect", "baselines"])
    assert table.exit_code == 0, table.error
    assert "caller:user-0" in table.output and "median" in table.output
    assert "networks" in table.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["detect", "run", "--input", "kafka:topic", "--dry-run"], "--input kafka:topic: one of"),
        (["detect", "run", "--input", "jsonl:/no/file", "--dry-run"], "no such file"),
        (["detect", "baselines", "--detector", "nope"], "--detector 'nope': one of"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(database: str, args: list[str], message: str) -> None:
    ran = run_main(args)
    assert ran.exit_code == 2
    assert ran.error.startswith("firebreak: ") and message in ran.error
    assert len(ran.error.splitlines()) == 1


def test_posting_needs_a_source_token(database: str, tmp_path: Path) -> None:
    ran = run_main(["detect", "run", "--input", f"jsonl:{gateway_log(tmp_path)}"])
    assert ran.exit_code == 2
    assert "FIREBREAK_DETECT_TOKEN" in ran.error and len(ran.error.splitlines()) == 1


def test_a_misspelt_parameter_is_named(database: str, tmp_path: Path) -> None:
    config = tmp_path / "detect.yaml"
    config.write_text("extraction:\n  burts: {seconds: 60}\n")
    log = gateway_log(tmp_path)
    ran = run_main(
        ["detect", "run", "--input", f"jsonl:{log}", "--dry-run", "--config", str(config)]
    )
    assert ran.exit_code == 2
    assert "extraction.burts" in ran.error and len(ran.error.splitlines()) == 1


def test_baselines_need_a_migrated_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FIREBREAK_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    ran = run_main(["detect", "baselines"])
    assert ran.exit_code != 0 and len(ran.error.splitlines()) == 1
    assert not db.current_revision(f"sqlite:///{tmp_path / 'empty.db'}")
