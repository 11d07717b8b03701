"""`firebreak worker` refuses to start with a one-line error when the event store is not
migrated, its OTLP metrics configuration cannot be honoured, or Temporal cannot be reached
within FIREBREAK_TEMPORAL_CONNECT_SECONDS; it waits for a Temporal that comes up later."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from temporalio.client import Client

from activities.providers.local.lab import LabInfo
from orchestrator.db import upgrade
from orchestrator.domain import Environment
from orchestrator.runtime.devserver import DevServer, DevServerConfig
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import Settings
from orchestrator.temporal.client import data_converter
from orchestrator.temporal.incidents import submit_alert
from tests.support.incidents import final_state, make_alert
from tests.support.ports import free_port

FIREBREAK = Path(sys.executable).parent / "firebreak"


def run_worker(data_dir: Path, address: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FIREBREAK_DATA_DIR": str(data_dir),
        "FIREBREAK_TEMPORAL_ADDRESS": address,
        **extra,
    }
    firebreak = Path(sys.executable).parent / "firebreak"
    return subprocess.run(
        [str(firebreak), "worker"], env=env, capture_output=True, text=True, timeout=60
    )


def test_worker_refuses_an_unmigrated_event_store(tmp_path: Path) -> None:
    result = run_worker(tmp_path, f"127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert result.stderr == (
        f"firebreak: no database at {tmp_path / 'firebreak.db'}: run `firebreak db upgrade` "
        "to create it\n"
    )
    assert not (tmp_path / "firebreak.db").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "firebreak.db").touch()
    result = run_worker(empty, f"127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert result.stderr.endswith("has no schema yet: run `firebreak db upgrade`\n")
    assert result.stderr.count("\n") == 1


def test_worker_reports_an_unreachable_temporal_server(tmp_path: Path) -> None:
    upgrade(f"sqlite:///{tmp_path / 'firebreak.db'}")
    address = f"127.0.0.1:{free_port()}"
    result = run_worker(tmp_path, address, FIREBREAK_TEMPORAL_CONNECT_SECONDS="0")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"firebreak: cannot reach Temporal at {address}: RuntimeError"
    )
    assert "waiting for Temporal" not in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_waits_for_temporal_then_gives_up(tmp_path: Path) -> None:
    """Attempts 1 s, then 2 s apart (the last wait cut to what is left of the 2.5 s), one line
    each, then the one-line error of a worker that does not wait."""
    upgrade(f"sqlite:///{tmp_path / 'firebreak.db'}")
    address = f"127.0.0.1:{free_port()}"
    result = run_worker(tmp_path, address, FIREBREAK_TEMPORAL_CONNECT_SECONDS="2.5")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    waiting = [line for line in lines if line.startswith("waiting for Temporal")]
    assert waiting[0] == f"waiting for Temporal at {address}: attempt 1, next in 1s"
    second = rf"waiting for Temporal at {address}: attempt 2, next in [01](\.\d)?s"
    assert re.fullmatch(second, waiting[1]), waiting[1]
    assert len(waiting) == 2
    assert lines[-1] == f"firebreak: cannot reach Temporal at {address}: RuntimeError"
    assert "Traceback" not in result.stderr


def test_a_signal_while_waiting_stops_the_worker_cleanly(tmp_path: Path) -> None:
    upgrade(f"sqlite:///{tmp_path / 'firebreak.db'}")
    address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "FIREBREAK_DATA_DIR": str(tmp_path),
        "FIREBREAK_TEMPORAL_ADDRESS": address,
        "FIREBREAK_TEMPORAL_CONNECT_SECONDS": "600",
    }
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([str(FIREBREAK), "worker"], env=env, stderr=out)
    try:
        wait_for_line(log, proc, "waiting for Temporal")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        stop(proc)
    text = log.read_text()
    assert "worker stopping: stopped while waiting for Temporal" in text
    assert text.endswith("worker stopped\n")
    assert "Traceback" not in text


async def test_a_worker_started_before_temporal_runs_incidents_once_it_answers(
    lab: LabInfo, fb_settings: Settings, tmp_path: Path
) -> None:
    """The worker starts first; a real dev server comes up on its address seconds later; the
    worker connects by itself and runs an incident to the end."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    env = {
        **os.environ,
        "FIREBREAK_DATA_DIR": str(fb_settings.data_dir),
        "FIREBREAK_TEMPORAL_ADDRESS": address,
        "FIREBREAK_TASK_QUEUE": fb_settings.task_queue,
        "FIREBREAK_INCIDENT_QUIET_SECONDS": "0",
        "FIREBREAK_TEMPORAL_CONNECT_SECONDS": "300",
    }
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([str(FIREBREAK), "worker"], env=env, stderr=out)
    server = DevServer(
        DevServerConfig(
            db_file=tmp_path / "temporal.db",
            log_file=tmp_path / "temporal.log",
            port=port,
            ui_port=free_port(),
        )
    )
    try:
        wait_for_line(log, proc, "attempt 2,")  # it has been waiting a while
        server.start()
        await server.wait_ready()
        ring = KeyRing.load_or_create(fb_settings.keyring_path)
        client = await Client.connect(address, data_converter=data_converter(ring))
        alert = make_alert(lab, "prompt_injection", Environment.dev)
        await submit_alert(client, alert, task_queue=fb_settings.task_queue)
        final = await final_state(client, alert.workflow_id, timeout=180)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        stop(proc)
        server.stop()
    assert final.outcome == "resolved"
    assert "Traceback" not in log.read_text()


def wait_for_line(log: Path, proc: subprocess.Popen[bytes], text: str) -> None:
    for _ in range(1200):  # a generous bound for a worker starting on a busy machine
        if log.exists() and text in log.read_text():
            return
        assert proc.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError(f"the worker never said {text!r}: {log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_worker_refuses_an_otlp_protocol_it_does_not_speak(tmp_path: Path) -> None:
    upgrade(f"sqlite:///{tmp_path / 'firebreak.db'}")
    result = run_worker(
        tmp_path,
        f"127.0.0.1:{free_port()}",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4317",
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "firebreak: OTEL_EXPORTER_OTLP_PROTOCOL='grpc': Firebreak exports traces over OTLP/HTTP"
        " protobuf only; set it to 'http/protobuf' (or unset it)"
    )
    assert "Traceback" not in result.stderr
