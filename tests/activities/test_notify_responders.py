"""notify.responders: a playbook step's message to the responders, through the notifier."""

from __future__ import annotations

import logging

import pytest

from tests.activities.conftest import Lab


async def test_the_message_reaches_the_notifier_escaped(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="firebreak.notify")
    title = "Retrained version 4 failed\nFORGED line"
    result = await lab.run(
        "notify.responders", {"title": title, "body": "score 0.9", "severity": "high"}
    )
    assert result.outputs == {"sent": "true"} and not result.changed
    (record,) = [r for r in caplog.records if r.name == "firebreak.notify"]
    line = record.getMessage()
    assert "[high/prod] step=step-1" in line and "'score 0.9'" in line
    assert "\\nFORGED line" in line and "\n" not in line, "alert-derived text cannot forge lines"


async def test_a_dry_run_tells_nobody(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="firebreak.notify")
    result = await lab.run("notify.responders", {"title": "t"}, dry_run=True)
    assert result.outputs == {"sent": "false"} and result.summary.startswith("dry run")
    assert not [r for r in caplog.records if r.name == "firebreak.notify"]
