"""A decision while no worker runs answers within 10 s as pending, and lands exactly once when
a worker starts: the real app under uvicorn, a Temporal dev server, a worker stopped and
started again, the SQLite event store, and the CLI's one line at each stage."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from orchestrator.audit import open_event_store
from orchestrator.domain import EventType
from orchestrator.settings import Settings
from tests.cli.test_incidents_approvals import firebreak
from tests.support.app import bearer
from tests.support.incidents import eventually, running_worker
from tests.support.principals import Tokens

ANSWER_WITHIN = 10.0


async def test_a_decision_without_a_worker_is_pending_then_applied_once(
    api_alone: tuple[str, Tokens],
    step_without_worker: tuple[str, str],
    dev_client: Client,
    fb_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, tokens = api_alone
    incident, step = step_without_worker
    cli = partial(firebreak, monkeypatch, url)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        decisions = f"/v1/incidents/{incident}/steps/{step}/decisions"
        started = time.monotonic()
        posted = await http.post(
            decisions,
            json={
                "decision": "approve",
                "reason": "while the worker is down",
                "decision_id": "d-1",
            },
            headers=bearer(tokens.ann),
        )
        assert time.monotonic() - started < ANSWER_WITHIN
        assert posted.status_code == 202, posted.text
        body = posted.json()
        follow = f"{decisions}/d-1"
        assert body["state"] == "pending" and body["decision_id"] == "d-1"
        assert body["kind"] == "approve"
        assert body["follow"] == follow and posted.headers["location"] == follow
        assert "no worker" in body["detail"]

        started = time.monotonic()
        followed = await http.get(follow, headers=bearer(tokens.ann))
        assert followed.status_code == 202 and followed.json()["state"] == "pending"
        assert time.monotonic() - started < ANSWER_WITHIN
        hidden = await http.get(follow, headers=bearer(tokens.devon))
        assert hidden.status_code == 403
        unknown = await http.get(f"{decisions}/never-sent", headers=bearer(tokens.ann))
        assert unknown.status_code == 404 and "never applies twice" in unknown.json()["detail"]

        # Sending it again (as the CLI would) attaches to the held update: still one decision.
        started = time.monotonic()
        again = await cli(tokens.ann, "decide", incident, step, "approve", "--decision-id", "d-1")
        assert time.monotonic() - started < ANSWER_WITHIN
        assert again.exit_code == 0, again.error
        assert again.output.count("\n") == 1
        assert again.output.startswith(f"approve pending on step {step} of {incident}: ")
        assert "no worker is running" in again.output
        assert f"firebreak decision {incident} {step} d-1" in again.output
        status = await cli(tokens.ann, "decision", incident, step, "d-1")
        assert status.exit_code == 0 and status.output.startswith("decision pending")

        # A second responder's decision on the same step is held too, unjudged: the validator
        # runs on a worker, and by then ann's approval (admitted first) has moved the step on.
        late = await http.post(
            decisions,
            json={"decision": "approve", "decision_id": "d-2"},
            headers=bearer(tokens.ben),
        )
        assert late.status_code == 202, late.text

        async with running_worker(dev_client, fb_settings):

            async def applied() -> dict[str, Any] | None:
                r = await http.get(follow, headers=bearer(tokens.ann))
                return r.json() if r.status_code == 200 else None

            outcome = await eventually(applied, timeout=60)
            assert outcome["state"] == "applied" and outcome["step_status"] == "approved"
            assert outcome["approved_by"] == ["ann"]
            shown = await cli(tokens.ann, "decision", incident, step, "d-1")
            assert shown.exit_code == 0 and shown.output.count("\n") == 1
            assert shown.output.startswith(f"approve applied to step {step} of {incident}: ")
            assert "step approved, 1/1 approvals (decision d-1)" in shown.output
            # A rejected update leaves no trace in Temporal: following it cannot tell a refusal
            # from a loss, and says so; sending it again gets the refusal, in one line.
            gone = await http.get(f"{decisions}/d-2", headers=bearer(tokens.ben))
            assert gone.status_code == 404, gone.text
            assert "refused when a worker judged it" in gone.json()["detail"]
            said = await cli(
                tokens.ben, "decide", incident, step, "approve", "--decision-id", "d-2"
            )
            assert said.exit_code == 1 and said.error.startswith("firebreak: HTTP 409 Conflict: ")
            assert said.error.count("\n") == 1
            resent = await http.post(
                decisions,
                json={"decision": "approve", "decision_id": "d-1"},
                headers=bearer(tokens.ann),
            )
            assert resent.status_code == 200 and resent.json()["approved_by"] == ["ann"]

            store = open_event_store(fb_settings)

            def approvals_of_step() -> list[Any]:
                events = store.read_stream(incident)
                found = [
                    e
                    for e in events
                    if e.type == EventType.step_approved and e.payload.get("step_id") == step
                ]
                succeeded = [
                    e
                    for e in events
                    if e.payload.get("step_id") == step and e.type == EventType.step_succeeded
                ]
                return found if succeeded else []

            [approval] = await eventually(approvals_of_step, timeout=60)
            assert approval.payload["decision_id"] == "d-1"
            assert approval.actor.id == "ann"
