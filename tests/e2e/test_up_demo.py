"""End to end, as a user runs it: `firebreak up` in an empty directory, `firebreak demo` against
it, Ctrl-C, and a second `firebreak up` that finds everything where it was left."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from orchestrator.audit import open_event_store
from orchestrator.domain import EventType
from orchestrator.settings import Settings
from tests.e2e.procs import alive, descendants, in_group
from tests.support.providers import free_port

pytestmark = pytest.mark.slow

FIREBREAK = [str(Path(sys.executable).parent / "firebreak")]
READY_LINE = "Firebreak is up."
START_SECONDS = 120


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    log: Path
    api_url: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_")}
    return env | {"FIREBREAK_DATA_DIR": str(data_dir)} | extra


@pytest.fixture
def ports() -> dict[str, int]:
    return {"api": free_port(), "temporal": free_port(), "ui": free_port()}


def _up_argv(data_dir: Path, ports: dict[str, int], *extra: str) -> list[str]:
    return [
        *FIREBREAK,
        "up",
        "--data-dir",
        str(data_dir),
        "--api-port",
        str(ports["api"]),
        "--temporal-port",
        str(ports["temporal"]),
        "--temporal-ui-port",
        str(ports["ui"]),
        *extra,
    ]


@contextlib.contextmanager
def running_up(data_dir: Path, ports: dict[str, int], log: Path) -> Iterator[Stack]:
    """`firebreak up` in its own session (like a terminal job); killed hard only on failure."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            _up_argv(data_dir, ports),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(data_dir),
            start_new_session=True,
        )
    stack = Stack(process, log, f"http://127.0.0.1:{ports['api']}")
    try:
        deadline = time.monotonic() + START_SECONDS
        while READY_LINE not in stack.output():
            assert process.poll() is None, f"firebreak up exited:\n{stack.output()}"
            assert time.monotonic() < deadline, f"firebreak up not ready:\n{stack.output()}"
            time.sleep(0.2)
        yield stack
    finally:
        if process.poll() is None:
            for pid in descendants(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _stop_with_ctrl_c(stack: Stack) -> None:
    """SIGINT like Ctrl-C; up must exit 0 and take its Temporal server with it."""
    children = descendants(stack.process.pid)
    assert children, "the embedded Temporal server should run under firebreak up"
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(timeout=60) == 0, stack.output()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in children), f"left behind: {children}"
    for pid in children:
        assert in_group(pid) == set()
    assert "Firebreak stopped." in stack.output()


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
        demo = subprocess.run(
            [*FIREBREAK, "demo", "--timeout", "180"],
            env=_env(data_dir, FIREBREAK_API_URL=stack.api_url),
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "audit verify: ok" in demo.stdout
        assert "rollback-model by alice and bob" in demo.stdout
        assert "nobody (fully automatic)" in demo.stdout
        _stop_with_ctrl_c(stack)

    store = open_event_store(Settings(data_dir=data_dir))
    try:
        events = list(store.read_all())
        assert store.verify().ok
    finally:
        store.engine.dispose()
    opened = {e.stream_id: e.payload["type"] for e in events if e.type == EventType.incident_opened}
    assert sorted(opened.values()) == ["data_poisoning", "model_extraction", "prompt_injection"]
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
        _stop_with_ctrl_c(stack)


def test_up_demo_exit_after_demo(tmp_path: Path, ports: dict[str, int]) -> None:
    data_dir = tmp_path / "data"
    result = subprocess.run(
        _up_argv(data_dir, ports, "--demo", "--exit-after-demo"),
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit verify: ok" in result.stdout
    assert "Firebreak stopped." in result.stdout


def test_taken_api_port_is_one_line_and_starts_nothing(
    tmp_path: Path, ports: dict[str, int]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports["api"]))
        busy.listen()
        result = subprocess.run(
            _up_argv(tmp_path / "data", ports),
            env=_env(tmp_path / "data"),
            capture_output=True,
            text=True,
            timeout=120,
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
