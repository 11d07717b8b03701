"""`firebreak playbooks list|show|validate` on a user directory beside the built-ins."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.main import app
from orchestrator.errors import InvalidInput, NotFound
from tests.playbooks.test_playbook_files import VALID, broken


def test_cli_list_show_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "custom.yaml").write_text(VALID)
    monkeypatch.setenv("FIREBREAK_PLAYBOOKS_DIR", str(tmp_path))
    runner = CliRunner()
    listed = runner.invoke(app, ["playbooks", "list"])
    assert listed.exit_code == 0
    rows = {line.split("\t")[0]: line.split("\t")[1] for line in listed.output.splitlines()}
    assert rows["custom-keys"] == "user" and rows["data-poisoning"] == "builtin"
    shown = runner.invoke(app, ["playbooks", "show", "custom-keys"])
    assert shown.exit_code == 0 and "undo: revoke" in shown.output
    missing = runner.invoke(app, ["playbooks", "show", "nope"])
    assert isinstance(missing.exception, NotFound)
    ok = runner.invoke(app, ["playbooks", "validate", str(tmp_path / "custom.yaml")])
    assert ok.exit_code == 0 and ok.output.startswith("ok: custom-keys (sha256:")
    (tmp_path / "bad.yaml").write_text(broken("keys.revoke", "keys.melt"))
    bad = runner.invoke(app, ["playbooks", "validate", str(tmp_path / "bad.yaml")])
    assert bad.exit_code != 0 and isinstance(bad.exception, InvalidInput)
