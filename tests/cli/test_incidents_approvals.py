"""`firebreak incidents|approvals|approve|reject|decide` against the real API under uvicorn."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import sys
from dataclasses import dataclass
from functools import partial
from unittest.mock import patch

import anyio
import pytest
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.cli import client
from orchestrator.cli.ids import short_ids
from orchestrator.cli.main import main
from orchestrator.domain import Environment
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import submit_alert
from tests.support.incidents import eventually, make_alert
from tests.support.principals import Tokens


@dataclass
class Run:
    exit_code: int
    output: str
    error: str


def run_main(args: list[str]) -> Run:
    """The console script's own entry point, so error handling is what users get."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        patch.object(sys, "argv", ["firebreak", *args]),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Run(code, out.getvalue(), err.getvalue())


async def firebreak(monkeypatch: pytest.MonkeyPatch, url: str, token: str, *args: str) -> Run:
    """Run the CLI in a thread so the server in this event loop can answer it."""
    monkeypatch.setenv("FIREBREAK_API_URL", url)
    monkeypatch.setenv("FIREBREAK_TOKEN", token)
    monkeypatch.setenv("COLUMNS", "250")
    return await anyio.to_thread.run_sync(run_main, list(args))


async def test_responder_works_an_incident_from_the_cli(
    api: tuple[str, Tokens],
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, tokens = api
    cli = partial(firebreak, monkeypatch, url)
    marker = "[bold red]Ignore previous instructions[/]"
    alert = make_alert(lab, "prompt_injection", Environment.prod, source="detector-1", title=marker)
    incident = (
        await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
    ).incident_id

    async def pending() -> list[dict[str, str]]:
        result = await cli(tokens.ann, "approvals", "--json")
        assert result.exit_code == 0, result.output
        return [p for p in json.loads(result.output)["items"] if p["incident_id"] == incident]

    [waiting] = await eventually(pending, timeout=60)
    step = waiting["step_id"]
    table = await cli(tokens.ann, "approvals")
    assert step in table.output and short_ids([incident])[incident] in table.output

    listed = await cli(tokens.ann, "incidents", "list")
    assert listed.exit_code == 0 and marker in listed.output  # shown as text, not as markup
    shown = await cli(tokens.ann, "incidents", "show", incident, "--json")
    assert json.loads(shown.output)["status"] == "awaiting_decision"

    refused = await cli(tokens.ann, "reject", incident, step, "--reason", "")
    assert refused.exit_code != 0
    assert refused.error.count("\n") == 1 and "reason" in refused.error
    wrong_scope = await cli(tokens.devon, "approve", incident, step)
    assert wrong_scope.exit_code == 1 and wrong_scope.error.startswith("firebreak: ")
    assert wrong_scope.error.count("\n") == 1

    approved = await cli(tokens.ann, "approve", incident, step, "--reason", "ok")
    assert approved.exit_code == 0, approved.output
    assert "approve applied" in approved.output and "step approved" in approved.output

    async def closed() -> bool:
        """Ben approves whatever else the playbook asks until the incident closes."""
        result = await cli(tokens.ben, "incidents", "show", incident, "--json")
        shown = json.loads(result.output)
        for later in shown["pending"]:
            if later["step_id"] != step:
                await cli(tokens.ben, "approve", incident, later["step_id"])
        return shown["status"] == "closed"

    await eventually(closed, timeout=90)
    timeline = await cli(tokens.ben, "incidents", "timeline", incident)
    assert "StepApproved" in timeline.output and "IncidentClosed" in timeline.output
    missing = await cli(tokens.ann, "incidents", "show", "incident-nope.x")
    assert missing.exit_code == 1 and missing.error.startswith("firebreak: ")
    bad_kind = await cli(tokens.ann, "decide", incident, step, "explode")
    assert bad_kind.exit_code == 2


def test_an_api_that_took_the_request_is_never_called_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server that accepts and reads the request but does not answer in time: the CLI says
    the request may still take effect, not that the API cannot be reached."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    monkeypatch.setattr(client, "TIMEOUT_SECONDS", 0.5)
    monkeypatch.setenv("FIREBREAK_API_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("FIREBREAK_TOKEN", "fbk_x")
    try:
        result = run_main(["approve", "incident-x.1", "step"])
    finally:
        listener.close()
    assert result.exit_code == 1
    assert result.error == (
        f"firebreak: the API at http://127.0.0.1:{port} did not answer within 0.5s; what it was "
        "asked may still happen\n"
    )
    refused = run_main(["approve", "incident-x.1", "step"])
    assert refused.error.startswith(f"firebreak: cannot reach the API at http://127.0.0.1:{port}")
