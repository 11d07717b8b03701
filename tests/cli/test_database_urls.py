"""Start-up before migrations, and every command that takes a database URL on a bad one: one
line naming the fix, exit 2, no traceback, and no directory or file created for a read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.db import head_revision, upgrade
from tests.cli.test_incidents_approvals import run_main
from tests.support.ports import free_port

READS = [
    ["audit", "verify"],
    ["audit", "query"],
    ["audit", "export", "--out", "-"],
    ["audit", "checkpoint"],
    ["principals", "list"],
    ["principals", "create", "someone", "--role", "auditor"],
]


def bad_urls(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name: (URL, what the one line says)."""
    missing = tmp_path / "missing" / "dir" / "firebreak.db"
    return {
        "sqlite in a missing directory": (
            f"sqlite:///{missing}",
            f"firebreak: no database at {missing}: run `firebreak db upgrade` to create it",
        ),
        "unreachable postgresql": (
            f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/firebreak",
            "unreachable: connection failed",
        ),
        "not a URL": ("not a url", "firebreak: FIREBREAK_DATABASE_URL: not a database URL"),
    }


@pytest.mark.parametrize(
    "case", ["sqlite in a missing directory", "unreachable postgresql", "not a URL"]
)
def test_commands_fail_in_one_line_on_a_bad_database_url(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, says = bad_urls(tmp_path)[case]
    data_dir = tmp_path / "data"
    monkeypatch.setenv("FIREBREAK_DATA_DIR", str(data_dir))
    monkeypatch.setenv("FIREBREAK_DATABASE_URL", url)
    sqlite = case == "sqlite in a missing directory"
    commands = [*READS, ["db", "downgrade", "base"]] + ([] if sqlite else [["db", "current"]])
    for args in commands:
        result = run_main(args)
        assert result.exit_code == 2, (args, result)
        assert result.error.count("\n") == 1, (args, result.error)
        assert says in result.error or (args[1] == "downgrade" and "nothing to" in result.error)
        assert "Traceback" not in result.error and result.output == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a read created something"


def test_audit_verify_tells_an_error_from_tampering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0 intact, 2 when the log could not be checked (1 is kept for tampering)."""
    url = f"sqlite:///{tmp_path / 'firebreak.db'}"
    monkeypatch.setenv("FIREBREAK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FIREBREAK_DATABASE_URL", url)
    (tmp_path / "firebreak.db").touch()
    unmigrated = run_main(["audit", "verify"])
    assert unmigrated.exit_code == 2
    assert unmigrated.error.endswith("has no schema yet: run `firebreak db upgrade`\n")
    upgrade(url)
    intact = run_main(["audit", "verify"])
    assert intact.exit_code == 0 and intact.output.startswith("intact: 0 events")


def start(command: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FIREBREAK_DATA_DIR": str(data_dir),
        "FIREBREAK_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "FIREBREAK_API_PORT": str(free_port()),
    }
    env.pop("FIREBREAK_DATABASE_URL", None)
    firebreak = Path(sys.executable).parent / "firebreak"
    return subprocess.run(
        [str(firebreak), command], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", ["api", "worker"])
def test_processes_started_before_migrations_say_so_and_exit(command: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = start(command, data_dir)
    assert result.returncode == 2
    assert result.stderr == (
        f"firebreak: no database at {data_dir / 'firebreak.db'}: run `firebreak db upgrade` "
        "to create it\n"
    )
    assert not data_dir.exists()
    data_dir.mkdir()
    upgrade(f"sqlite:///{data_dir / 'firebreak.db'}", "0004")
    behind = start(command, data_dir)
    assert behind.returncode == 2 and behind.stderr.count("\n") == 1
    assert behind.stderr.endswith(
        f"is at revision 0004, this version needs {head_revision()}: run `firebreak db upgrade`\n"
    )
