"""docs/configuration.md lists every `FIREBREAK_*` setting, as the code defines it today."""

from __future__ import annotations

import re

import pytest

from orchestrator.settings import ENV_PREFIX, Settings
from tests.deploy import settings_doc


def test_table_is_current() -> None:
    documented = settings_doc.current_table(settings_doc.DOC.read_text())
    assert documented == settings_doc.render(), (
        "docs/configuration.md is stale: run `.venv/bin/python -m tests.deploy.settings_doc`"
    )


def test_every_setting_has_exactly_one_row() -> None:
    rows = re.findall(r"^\| `(FIREBREAK_[A-Z0-9_]+)` \|", settings_doc.DOC.read_text(), re.M)
    expected = [ENV_PREFIX + name.upper() for name in Settings.model_fields]
    assert sorted(rows) == sorted(expected)


def test_a_setting_without_description_fails_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(settings_doc.DESCRIPTIONS, "api_port")
    with pytest.raises(KeyError, match=r"Settings\.api_port has no description"):
        settings_doc.render()
