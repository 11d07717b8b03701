"""Issue #16's user story in the split topology: `firebreak api` and `firebreak worker`
processes, the worker killed with SIGKILL, a responder approves from the CLI. The answer comes
within 10 s and says pending; once a worker runs again the decision is applied exactly once
and following it says applied, in one line each."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator import db
from orchestrator.audit import open_event_store
from orchestrator.domain import Environment, EventType, RecordedEvent
from orchestrator.settings import Settings
from tests.e2e.stack import FIREBREAK, running, split_env, wait_until
from tests.support.app import bearer
from tests.support.ports import free_port
from tests.support.principals import cast
from tests.support.stack import open_incident

ANSWER_WITHIN = 10.0


def cli(env: dict[str, str], *args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run([*FIREBREAK, *args], env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


async def test_approving_while_the_worker_is_killed(
    dev_client: Client, fb_settings: Settings, lab: LabInfo, tmp_path: Path
) -> None:
    engine = db.make_engine(fb_settings.db_url)
    try:
        tokens = cast(engine)
    finally:
        engine.dispose()
    port = free_port()
    env = split_env(
        fb_settings,
        dev_client,
        FIREBREAK_API_PORT=str(port),
        FIREBREAK_INCIDENT_QUIET_SECONDS="0",
        FIREBREAK_API_URL=f"http://127.0.0.1:{port}",
        FIREBREAK_TOKEN=tokens.ann,
    )
    base = f"http://127.0.0.1:{port}"
    with running("api", env, tmp_path / "api.log"):
        wait_until(lambda: _answers(f"{base}/healthz"), "the API answers")
        with running("worker", env, tmp_path / "worker.log") as worker:
            incident = await open_incident(dev_client, fb_settings, lab, Environment.prod)

            def waiting() -> str | None:
                r = httpx.get(f"{base}/v1/approvals", headers=bearer(tokens.ann), timeout=10)
                steps = [p["step_id"] for p in r.json()["items"] if p["incident_id"] == incident]
                return steps[0] if steps else None

            step = wait_until(waiting, "a step waits for approval")
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)

        decision_id = f"e2e-{uuid.uuid4().hex[:8]}"
        code, out, took = cli(
            env, "decide", incident, step, "approve", "--decision-id", decision_id
        )
        assert took < ANSWER_WITHIN, (took, out)
        assert code == 0, out
        assert out.count("\n") == 1 and "cannot reach" not in out
        assert out.startswith(f"approve pending on step {step} of {incident}: accepted, not yet")

        with running("worker", env, tmp_path / "worker.log"):

            def applied() -> str | None:
                code, out, _ = cli(env, "decision", incident, step, decision_id)
                return out if code == 0 and " applied to " in out else None

            line = wait_until(applied, "the decision lands", timeout=90)
            assert line.count("\n") == 1
            assert line.startswith(f"approve applied to step {step} of {incident}: step ")
            assert line.endswith(f"(decision {decision_id})\n")

            store = open_event_store(fb_settings)

            def approvals() -> list[RecordedEvent]:
                events = store.read_stream(incident)
                ran = any(
                    e.type == EventType.step_succeeded and e.payload.get("step_id") == step
                    for e in events
                )
                found = [
                    e
                    for e in events
                    if e.type == EventType.step_approved and e.payload.get("step_id") == step
                ]
                return found if ran else []

            [approval] = wait_until(approvals, "the approved step runs")
            assert approval.payload["decision_id"] == decision_id


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False
