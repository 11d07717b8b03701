"""The commands Firebreak prints must work when pasted into the shell that started it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from orchestrator.runtime.command import firebreak_command


def _script(tmp_path: Path) -> Path:
    script = tmp_path / "venv-bin" / "firebreak"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return script


def test_a_script_off_path_is_named_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["venv-bin/firebreak", "up"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert firebreak_command() == str(script)


def test_the_script_on_path_is_just_firebreak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "up"])
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}/usr/bin")
    assert firebreak_command() == "firebreak"


def test_another_program_running_the_cli_prints_firebreak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/pytest"])
    assert firebreak_command() == "firebreak"


def test_a_path_with_spaces_is_quoted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spaced = tmp_path / "my venv"
    spaced.mkdir()
    script = _script(spaced)
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.setenv("PATH", "/usr/bin")
    assert firebreak_command() == f"'{script}'"
