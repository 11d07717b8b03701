"""Issue #16, point 5, with real processes: SIGTERM to `firebreak api` and `firebreak worker`
as a process manager (systemd, Kubernetes) sends it.

- An API replica stops accepting at once, answers the request in flight, and exits 0.
- A worker stops polling and lets the activity it runs finish within its grace, then exits 0;
  an activity still running past the grace is cancelled there and retried by the next worker,
  resuming the same pipeline run (one run triggered in all).
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import EventType as HistoryEvent
from temporalio.client import Client
from temporalio.service import RPCError

from activities.providers.local.lab import LabInfo
from orchestrator import db
from orchestrator.domain import Environment
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import submit_alert
from tests.activities.providers.fake_pipelines import TOKEN, TOKEN_ENV, WebhookPipeline
from tests.e2e.procs import alive
from tests.e2e.stack import running, split_env, wait_until
from tests.support.app import fixture_json, terminate_started
from tests.support.incidents import make_alert
from tests.support.ports import free_port
from tests.support.principals import cast
from tests.support.providers import Loopback

STOP_MARGIN = 10.0
"""Seconds beyond the configured grace that a process may take to exit: interpreter and
client shutdown. docs/production.md states the same bound."""


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def test_an_api_stopped_mid_request_answers_it_and_exits_0(
    dev_client: Client, fb_settings: Settings, tmp_path: Path
) -> None:
    """The sender's alert is half uploaded when SIGTERM arrives: new connections are refused
    from then on, the rest of the body arrives a second later, and the sender gets its 202."""
    engine = db.make_engine(fb_settings.db_url)
    try:
        tokens = cast(engine)
        port = free_port()
        env = split_env(
            fb_settings,
            dev_client,
            FIREBREAK_API_PORT=str(port),
            FIREBREAK_API_SHUTDOWN_SECONDS="20",
        )
        body = json.dumps(fixture_json("generic.json") | {"id": "in-flight-at-sigterm"}).encode()
        head = (
            f"POST /v1/alerts/generic HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {tokens.source}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        log = tmp_path / "api.log"
        with running("api", env, log) as api:
            wait_until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), "the API answers")
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sender:
                sender.sendall(head + body[:10])
                time.sleep(0.5)  # the request has reached the app, which waits for its body
                api.send_signal(signal.SIGTERM)
                wait_until(lambda: _refused(port), "the API stops accepting", timeout=10)
                assert api.poll() is None, "the API exited with a request in flight"
                sender.sendall(body[10:])
                answer = _read_response(sender)
            stopped_at = time.monotonic()
            code = api.wait(timeout=20 + STOP_MARGIN)
        assert answer.startswith(b"HTTP/1.1 202"), answer[:300]
        assert b'"incidents"' in answer
        assert code == 0, log.read_text()
        assert time.monotonic() - stopped_at < STOP_MARGIN
        assert "API stopped" in log.read_text()
    finally:
        await terminate_started(dev_client, engine)
        engine.dispose()


def _read_response(conn: socket.socket) -> bytes:
    """One whole HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


def _worker_env(
    settings: Settings, client: Client, pipeline: Loopback, grace: float
) -> dict[str, str]:
    return split_env(
        settings,
        client,
        FIREBREAK_RETRAINING_PROVIDER="webhook",
        FIREBREAK_RETRAINING_URL=f"{pipeline.url}/retrain",
        FIREBREAK_RETRAINING_TOKEN_ENV=TOKEN_ENV,
        FIREBREAK_WORKER_SHUTDOWN_SECONDS=str(grace),
        **{TOKEN_ENV: TOKEN},
    )


async def _retraining_attempts(client: Client, workflow_id: str) -> tuple[list[int], bool]:
    """Attempts of `retraining.run` that started, and whether one completed."""
    started: list[int] = []
    completed = False
    scheduled: set[int] = set()
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        kind = event.event_type
        if kind == HistoryEvent.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            if attrs.activity_type.name == "retraining.run":
                scheduled.add(event.event_id)
        elif kind == HistoryEvent.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs_started = event.activity_task_started_event_attributes
            if attrs_started.scheduled_event_id in scheduled:
                started.append(attrs_started.attempt)
        elif kind == HistoryEvent.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done = event.activity_task_completed_event_attributes
            completed = completed or done.scheduled_event_id in scheduled
    return started, completed


@pytest.mark.parametrize("past_grace", [False, True], ids=["within-grace", "past-grace"])
async def test_a_worker_stopped_mid_activity(
    dev_client: Client,
    fb_settings: Settings,
    lab: LabInfo,
    loopback: Loopback,
    tmp_path: Path,
    past_grace: bool,
) -> None:
    """A dev data-poisoning incident runs straight to `retraining.run`, which polls a pipeline
    run that only the test finishes. SIGTERM arrives while it polls."""
    loopback.handler = pipeline = WebhookPipeline()
    grace = 1.0 if past_grace else 30.0
    env = _worker_env(fb_settings, dev_client, loopback, grace)
    log = tmp_path / "worker.log"
    alert = make_alert(lab, "data_poisoning", Environment.dev)
    try:
        with running("worker", env, log) as worker:
            await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
            wait_until(lambda: pipeline.runs, "the retraining run is triggered", timeout=120)
            [run_id] = pipeline.runs
            worker.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            if not past_grace:
                time.sleep(3)  # the activity keeps polling while the worker drains
                assert alive(worker.pid), log.read_text()
                pipeline.finish(run_id, "succeeded")
            code = worker.wait(timeout=grace + STOP_MARGIN)
            took = time.monotonic() - signalled
        assert code == 0, log.read_text()
        assert took < grace + STOP_MARGIN
        text = log.read_text()
        assert "worker stopping: polling stopped" in text and "worker stopped" in text
        started, completed = await _retraining_attempts(dev_client, alert.workflow_id)
        if not past_grace:
            assert (started, completed) == ([1], True), text
        else:
            assert not completed
            pipeline.finish(run_id, "succeeded")
            with running("worker", env, tmp_path / "second.log"):

                async def retried() -> bool:
                    return (await _retraining_attempts(dev_client, alert.workflow_id))[1]

                deadline = time.monotonic() + 120
                while not await retried():
                    assert time.monotonic() < deadline, "the retried activity never completed"
                    time.sleep(0.5)
            started, _ = await _retraining_attempts(dev_client, alert.workflow_id)
            assert started[-1] >= 2, started
        assert list(pipeline.runs) == [run_id], "the retry triggered a second pipeline run"
    finally:
        with contextlib.suppress(RPCError):
            await dev_client.get_workflow_handle(alert.workflow_id).terminate("test finished")
