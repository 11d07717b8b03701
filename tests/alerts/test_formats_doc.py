"""docs/alert-formats.md publishes the generic format's schema: it must be the code's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from orchestrator.alerts.formats.generic import GenericAlert

DOC = Path(__file__).resolve().parents[2] / "docs" / "alert-formats.md"


def test_published_generic_schema_matches_the_model() -> None:
    section = DOC.read_text().split("### Generic JSON schema", 1)[1]
    block = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert block is not None
    assert json.loads(block.group(1)) == GenericAlert.model_json_schema()
