"""The root command imports a sub-command's module only when that sub-command runs.

Checked in fresh interpreters (this one has imported everything already): the responder's
verbs must not pay for the audit store, SQLAlchemy, Temporal or the API app, and every
command named in `COMMANDS` must still be there, with its options.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence

import pytest
from typer.testing import CliRunner

from orchestrator.cli import lazy
from orchestrator.cli.lazy import Lazy, build, source_help
from orchestrator.cli.main import COMMANDS, app, main

HEAVY = ("sqlalchemy", "alembic", "psycopg", "temporalio", "fastapi", "orchestrator.audit")
"""What the API-client commands have no use for, each a large part of start-up."""

PROBE = """
import json, sys
from orchestrator.cli.main import main
args, heavy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["firebreak", *args, "--help"]
try:
    main()
except SystemExit as exit:
    code = exit.code
found = [m for m in heavy if m in sys.modules]
print(json.dumps({"code": code, "heavy": found}), file=sys.stderr)
"""


def probe(args: list[str], watched: Sequence[str] = HEAVY) -> dict[str, object]:
    """Run `firebreak ARGS --help` in a fresh interpreter: its exit code and which of the
    `watched` modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(list(watched))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    result: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "args",
    [["decide"], ["approve"], ["reject"], ["approvals"], ["decision"], ["incidents", "show"]],
)
def test_responder_commands_start_without_the_server_side(args: list[str]) -> None:
    assert probe(args) == {"code": 0, "heavy": []}


def test_a_server_side_command_still_imports_what_it_needs() -> None:
    # The probe itself can see the heavy modules: `db` needs SQLAlchemy and Alembic.
    found = probe(["db", "upgrade"])
    assert found["code"] == 0
    assert {"sqlalchemy", "alembic"} <= set(found["heavy"])  # type: ignore[arg-type]


def test_the_root_help_lists_every_command_in_order() -> None:
    output = CliRunner().invoke(app, ["--help"], terminal_width=200).output
    listed = [line.split()[1] for line in output.splitlines() if line.startswith("│ ")]
    assert [name for name in listed if name in COMMANDS] == list(COMMANDS)


def test_the_root_help_imports_no_command_module() -> None:
    modules = sorted({where.module for where in COMMANDS.values()})
    assert probe([], watched=[*modules, *HEAVY]) == {"code": 0, "heavy": []}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_help_read_from_source_is_its_built_help(name: str) -> None:
    where = COMMANDS[name]
    assert source_help(where) == build(name, where).help


def test_the_root_help_reads_as_it_does_with_every_command_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def read(args: list[str]) -> str:
        return CliRunner().invoke(app, args, terminal_width=120).output

    from_source = read(["--help"])
    monkeypatch.setattr(lazy, "source_help", lambda where: None)
    assert read(["--help"]) == from_source
    assert "Query, export and verify the audit ledger." in from_source


def test_a_help_that_is_not_a_literal_is_not_guessed() -> None:
    # `app` in main.py is a Typer whose help is a literal, `COMMANDS` a dict: one of each.
    assert source_help(Lazy("orchestrator.cli.main", "app")) == (
        "Incident response for production AI and agent systems."
    )
    assert source_help(Lazy("orchestrator.cli.main", "COMMANDS")) is None
    assert source_help(Lazy("orchestrator.cli.main", "no_such_attribute")) is None


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_builds_and_answers_help(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert f"firebreak {name}" in result.output


def test_an_unknown_command_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["firebreak", "aprove"])
    with pytest.raises(SystemExit) as exit:
        main()
    assert exit.value.code == 2
    assert "No such command 'aprove'" in capsys.readouterr().err
