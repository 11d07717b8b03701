"""`firebreak incidents ack|resolve|close` and the SLA countdown, against the real API under
uvicorn with a worker on the Temporal dev server."""

from __future__ import annotations

import json
from functools import partial

import pytest
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.domain import Environment
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import submit_alert
from tests.cli.test_incidents_approvals import firebreak
from tests.support.incidents import eventually, lab_settings, make_alert
from tests.support.principals import Tokens


@pytest.fixture
def fb_settings(lab: LabInfo) -> Settings:
    """A quiet period long enough that a resolved incident waits to be closed."""
    return lab_settings(lab, incident_quiet_seconds=3600)


async def test_a_responder_moves_an_incident_through_its_life(
    api: tuple[str, Tokens],
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, tokens = api
    cli = partial(firebreak, monkeypatch, url)
    alert = make_alert(lab, "prompt_injection", Environment.prod, source="detector-1")
    incident = (
        await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
    ).incident_id

    async def shown(status: str) -> dict[str, object] | None:
        result = await cli(tokens.ann, "incidents", "show", incident, "--json")
        body: dict[str, object] = json.loads(result.output) if result.exit_code == 0 else {}
        return body if body.get("status") == status else None

    await eventually(lambda: shown("contained"), timeout=60)
    listed = await cli(tokens.ann, "incidents", "list")
    assert "acknowledge in 1" in listed.output, listed.output  # high: 15 minutes to acknowledge

    # Contained comes before the prod approval is asked for: wait for it to be listed.
    async def waiting() -> str | None:
        listed = (await cli(tokens.ann, "approvals")).output
        return None if listed.startswith("nothing waits") else listed

    approvals = await eventually(waiting, timeout=30)
    assert "INCIDENT SLA" in approvals and "acknowledge in" in approvals

    acked = await cli(tokens.ann, "incidents", "ack", incident)
    assert acked.exit_code == 0, acked.error
    assert f"acknowledge applied to {incident}: incident contained" in acked.output
    again = await cli(tokens.ben, "incidents", "ack", incident)
    assert again.exit_code == 1 and again.error.count("\n") == 1
    assert "already acknowledged by ann" in again.error
    outsider = await cli(tokens.devon, "incidents", "ack", incident)
    assert outsider.exit_code == 1 and "prod" in outsider.error

    no_reason = await cli(tokens.ben, "incidents", "resolve", incident)
    assert no_reason.exit_code == 2 and "--reason" in no_reason.error
    blank = await cli(tokens.ben, "incidents", "resolve", incident, "--reason", " ")
    assert blank.exit_code == 2 and "reason is required" in blank.error
    early = await cli(tokens.ben, "incidents", "close", incident, "--reason", "done")
    assert early.exit_code == 1 and "resolve it before closing" in early.error

    resolved = await cli(tokens.ben, "incidents", "resolve", incident, "--reason", "rotated")
    assert resolved.exit_code == 0, resolved.error
    assert "incident resolved" in resolved.output
    detail = await eventually(lambda: shown("resolved"), timeout=30)
    assert detail["acknowledged_by"] == "ann"
    table = await cli(tokens.ben, "incidents", "show", incident)
    assert "time to resolve" in table.output and "acknowledged" in table.output

    closed = await cli(tokens.ann, "incidents", "close", incident, "--reason", "post-mortem")
    assert closed.exit_code == 0 and "incident closed" in closed.output
    await eventually(lambda: shown("closed"), timeout=30)
    timeline = await cli(tokens.ben, "incidents", "timeline", incident)
    for event in ("IncidentAcknowledged", "IncidentResolved", "IncidentClosed"):
        assert event in timeline.output
