"""End to end, as a user runs it: `firebreak up` in an empty directory, `firebreak demo` against
it, Ctrl-C, and a second `firebreak up` that finds everything where it was left."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from activities.providers.local.lab import seed_demo_lab
from orchestrator.audit import open_event_store
from orchestrator.demo.cast import ALICE, AUDITOR, SOURCE, create_cast
from orchestrator.demo.client import DemoApi
from orchestrator.demo.scenarios import scenarios
from orchestrator.domain import EventType
from orchestrator.runtime.devserver import DevServer, DevServerConfig
from orchestrator.settings import Settings
from tests.e2e.procs import alive, descendants
from tests.e2e.stack import FIREBREAK, env_for, finished, running_up, stop_with_ctrl_c, up_argv

pytestmark = pytest.mark.slow


def _admin(data_dir: Path) -> dict[str, str]:
    token = (data_dir / "admin.token").read_text().strip()
    return {"authorization": f"Bearer {token}"}


def test_up_demo_ctrl_c_and_restart(tmp_path: Path, ports: dict[str, int]) -> None:
    data_dir = tmp_path / "data"
    with running_up(data_dir, ports, tmp_path / "up1.log") as stack:
        first_output = stack.output()
        token = (data_dir / "admin.token").read_text().strip()
        assert token in first_output  # printed once, on the first run
        assert (data_dir / "admin.token").stat().st_mode & 0o077 == 0
        assert f"http://127.0.0.1:{ports['ui']}" in first_output
        demo = finished(
            [*FIREBREAK, "demo", "--timeout", "180"],
            env_for(data_dir, FIREBREAK_API_URL=stack.api_url),
            timeout=240,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "audit verify: ok" in demo.stdout
        assert "rollback-model by alice and bob" in demo.stdout
        assert "nobody (fully automatic)" in demo.stdout
        # The report line the summary prints, run as a user would paste it.
        hints = [
            line.split("report: ", 1)[1] for line in demo.stdout.splitlines() if "report: " in line
        ]
        assert len(hints) == 4, demo.stdout
        # the fourth incident's alert came from the extraction detector, not from a script
        assert "caught by the extraction detector: Caller globex-integration sent" in demo.stdout
        printed = finished(
            [*FIREBREAK, *hints[1].split()[1:-1], str(tmp_path / "poisoning.html")],
            env_for(data_dir, FIREBREAK_API_URL=stack.api_url, FIREBREAK_TOKEN=token),
            timeout=60,
        )
        assert printed.returncode == 0, printed.stdout + printed.stderr
        page = (tmp_path / "poisoning.html").read_text()
        assert "post-incident report" in page and "rollback-model" in page and "<svg" in page
        stop_with_ctrl_c(stack)

    store = open_event_store(Settings(data_dir=data_dir))
    try:
        events = list(store.read_all())
        assert store.verify().ok
    finally:
        store.engine.dispose()
    opened = {e.stream_id: e.payload["type"] for e in events if e.type == EventType.incident_opened}
    assert sorted(opened.values()) == [
        "data_poisoning",
        "model_extraction",
        "model_extraction",
        "prompt_injection",
    ]
    recovered = {
        e.stream_id
        for e in events
        if e.type == EventType.phase_completed and e.payload["phase"] == "recovery"
    }
    assert recovered == set(opened)
    approvers = {
        (e.payload["step_id"], e.actor.id) for e in events if e.type == EventType.step_approved
    }
    assert ("rollback-model", "alice") in approvers and ("rollback-model", "bob") in approvers
    revoked = [
        e
        for e in events
        if e.type == EventType.step_succeeded and e.payload["step_id"] == "revoke-extracting-key"
    ]
    assert len(revoked) == 2  # the scripted burst's key and the detected sweep's, no approval
    attached = [e for e in events if e.type == EventType.alert_attached]
    assert max(e.payload["alert_count"] for e in attached) == 25

    with running_up(data_dir, ports, tmp_path / "up2.log") as stack:
        assert token not in stack.output()  # never shown again
        headers = _admin(data_dir)
        listed = httpx.get(f"{stack.api_url}/v1/incidents", headers=headers, timeout=30).json()
        assert {item["id"] for item in listed["items"]} >= set(opened)
        open_incidents = [i["id"] for i in listed["items"] if i["status"] != "closed"]
        for incident_id in open_incidents:  # their workflows resumed from Temporal's file
            detail = httpx.get(
                f"{stack.api_url}/v1/incidents/{incident_id}", headers=headers, timeout=30
            ).json()
            assert detail["live"] is not None, json.dumps(detail)
        verdict = httpx.get(f"{stack.api_url}/v1/audit/verify", headers=headers, timeout=60)
        assert verdict.status_code == 200 and verdict.json()["ok"] is True
        console_line = f"console      {stack.api_url}/console"
        assert console_line in stack.output()
        sign_in = httpx.get(f"{stack.api_url}/console/login", timeout=30)
        assert sign_in.status_code == 200 and "<form" in sign_in.text
        assert "server" not in sign_in.headers, "up serves the API as `firebreak api` does"
        stop_with_ctrl_c(stack)


def test_up_demo_exit_after_demo(tmp_path: Path, ports: dict[str, int]) -> None:
    data_dir = tmp_path / "data"
    result = finished(up_argv(data_dir, ports, "--exit-after-demo"), env_for(data_dir), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit verify: ok" in result.stdout
    assert "Firebreak stopped." in result.stdout


def test_taken_api_port_is_one_line_and_starts_nothing(
    tmp_path: Path, ports: dict[str, int]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports["api"]))
        busy.listen()
        result = finished(
            up_argv(tmp_path / "data", ports), env_for(tmp_path / "data"), timeout=120
        )
    assert result.returncode == 2  # a ConfigError
    assert result.stderr.strip().splitlines() == [
        f"firebreak: FIREBREAK_API_PORT: port {ports['api']} on 127.0.0.1 is not available "
        "(Address already in use); stop what uses it or choose another port"
    ]
    assert not (tmp_path / "data").exists()


def test_up_stops_when_its_temporal_server_dies(tmp_path: Path, ports: dict[str, int]) -> None:
    data_dir = tmp_path / "data"
    with running_up(data_dir, ports, tmp_path / "up.log") as stack:
        (server,) = descendants(stack.process.pid)
        os.kill(server, signal.SIGKILL)
        assert stack.process.wait(timeout=60) == 2, stack.output()
    assert "firebreak: Temporal dev server exited with code -9" in stack.output()
    assert "Traceback" not in stack.output()


async def test_external_temporal_and_postgresql_same_code_path(
    tmp_path: Path, ports: dict[str, int], pg_url: str
) -> None:
    cluster = DevServer(
        DevServerConfig(
            db_file=tmp_path / "cluster.db",
            log_file=tmp_path / "cluster.log",
            port=ports["temporal"],
            ui_port=ports["ui"],
        )
    )
    cluster.start()
    try:
        await cluster.wait_ready()
        data_dir = tmp_path / "data"
        env = env_for(
            data_dir,
            FIREBREAK_TEMPORAL_ADDRESS=cluster.config.address,
            FIREBREAK_DATABASE_URL=pg_url,
            FIREBREAK_CHECKPOINT_INTERVAL_SECONDS="120",
        )
        argv = [*FIREBREAK, "up", "--api-port", str(ports["api"]), "--demo", "--exit-after-demo"]
        result = await asyncio.to_thread(finished, argv, env, timeout=300)
        client = await Client.connect(cluster.config.address)
        # `up` set up the ledger's checkpoint schedule on the cluster, as a worker would.
        schedule = await client.get_schedule_handle(
            "firebreak-ledger-checkpoint-firebreak"
        ).describe()
        assert schedule.schedule.spec.intervals[0].every == timedelta(minutes=2)
    finally:
        cluster.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit verify: ok" in result.stdout
    assert f"temporal     {cluster.config.address}" in result.stdout
    assert "temporal UI" not in result.stdout  # nothing embedded was started
    assert not (data_dir / "temporal.db").exists()
    assert not (data_dir / "firebreak.db").exists()
    store = open_event_store(Settings(data_dir=data_dir, database_url=pg_url))
    try:
        types = {e.payload.get("type") for e in store.read_all() if e.type == "IncidentOpened"}
        assert types == {"data_poisoning", "model_extraction", "prompt_injection"}
    finally:
        store.engine.dispose()


async def test_incident_waiting_for_approval_resumes_after_restart(
    tmp_path: Path, ports: dict[str, int]
) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, api_url=f"http://127.0.0.1:{ports['api']}")
    step = "quarantine-dataset"
    with running_up(data_dir, ports, tmp_path / "up1.log") as stack:
        lab = seed_demo_lab(data_dir.resolve())
        cast = create_cast(settings)
        poisoning = next(s for s in scenarios("resume", lab) if s.key == "poisoning")
        async with DemoApi(stack.api_url) as api:
            answer = await api.post_alert(
                cast.tokens[SOURCE], cast.webhook_secret, poisoning.alerts[0]
            )
            (incident_id,) = answer["incidents"]
            await _wait_for(api, cast.tokens[AUDITOR], incident_id, "StepRequested", step)
        await asyncio.to_thread(stop_with_ctrl_c, stack)

    with running_up(data_dir, ports, tmp_path / "up2.log") as stack:
        async with DemoApi(stack.api_url) as api:
            await api.approve(cast.tokens[ALICE], incident_id, step, "resume-1", "reviewed")
            events = await _wait_for(api, cast.tokens[AUDITOR], incident_id, "StepSucceeded", step)
        await asyncio.to_thread(stop_with_ctrl_c, stack)
    about_step = [e["type"] for e in events if e["payload"].get("step_id") == step]
    assert about_step.count("StepRequested") == 1  # the restart neither lost nor repeated it
    assert about_step.count("StepApproved") == 1
    assert about_step.count("StepSucceeded") == 1


async def _wait_for(
    api: DemoApi, token: str, incident_id: str, kind: str, step: str
) -> list[dict[str, Any]]:
    """The incident's timeline once it holds a `kind` event for `step`."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = await api.timeline(token, incident_id)
        if any(e["type"] == kind and e["payload"].get("step_id") == step for e in events):
            return events
        await asyncio.sleep(0.3)
    raise AssertionError(f"no {kind} for {step}: {[e['type'] for e in events]}")


def test_killed_up_leaves_no_temporal_server(tmp_path: Path, ports: dict[str, int]) -> None:
    with running_up(tmp_path / "data", ports, tmp_path / "up.log") as stack:
        (server,) = descendants(stack.process.pid)
        stack.process.kill()  # kill -9: no handler, no atexit; the kernel tells the child
        stack.process.wait()
        deadline = time.monotonic() + 15
        while alive(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        orphaned = alive(server)
        if orphaned:
            os.kill(server, signal.SIGKILL)
        assert not orphaned
