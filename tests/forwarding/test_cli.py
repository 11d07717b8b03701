"""`firebreak audit forward` as a process: killed mid-stream and started again, the SIEM has
every event, and the only repeats are whole events with the same id and position; SIGTERM
stops it cleanly; mistakes are one line with exit code 2, a failing sink under --once exit 1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from orchestrator.audit import EventStore
from tests.forwarding.conftest import fill
from tests.support.ports import free_port
from tests.support.siem import HEC_TOKEN, HecServer

FIREBREAK = str(Path(sys.executable).parent / "firebreak")
BATCH = 10


def forward_env(store: EventStore, tmp_path: Path, sinks: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_")}
    return env | {
        "FIREBREAK_DATA_DIR": str(tmp_path / "data"),
        "FIREBREAK_DATABASE_URL": store.engine.url.render_as_string(hide_password=False),
        "FIREBREAK_FORWARD_SINKS": json.dumps(sinks),
        "FIREBREAK_FORWARD_BATCH_SIZE": str(BATCH),
        "FIREBREAK_FORWARD_POLL_SECONDS": "0.1",
        "TEST_HEC_TOKEN": HEC_TOKEN,
    }


def hec_url(server: HecServer) -> str:
    return (
        f"hec+http://127.0.0.1:{server.url.rsplit(':', 1)[1]}?token_env=TEST_HEC_TOKEN&name=splunk"
    )


def wait(check: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


def test_killed_mid_stream_then_restarted_loses_nothing(
    store: EventStore, hec_server: HecServer, tmp_path: Path
) -> None:
    events = fill(store, 150)
    hec_server.delay = 0.05  # a slow SIEM: the kill lands mid-stream
    env = forward_env(store, tmp_path, [hec_url(hec_server)])
    log = tmp_path / "forward.log"
    with log.open("wb") as out:
        first = subprocess.Popen([FIREBREAK, "audit", "forward"], env=env, stdout=out, stderr=out)
    try:
        wait(lambda: len(hec_server.accepted) >= 60, "the forwarder sent 60 events")
    finally:
        first.kill()
        first.wait(timeout=30)
    assert len(hec_server.accepted) < 150, "the kill came too late to test anything"
    later = fill(store, 20, stream="incident-2")[150:]
    hec_server.delay = 0.0
    again = subprocess.run(
        [FIREBREAK, "audit", "forward", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    head = later[-1].position
    assert again.stderr.splitlines()[-1].startswith("splunk: forwarded ")
    assert again.stderr.splitlines()[-1].endswith(f", at position {head}")

    positions: dict[str, set[str]] = defaultdict(set)
    for event in hec_server.accepted:
        positions[event["fields"]["firebreak_id"]].add(event["fields"]["firebreak_position"])
    assert set(positions) == {e.id for e in [*events, *later]}  # nothing lost
    assert all(len(p) == 1 for p in positions.values())  # a repeat is the same id, same place
    repeats = len(hec_server.accepted) - len(positions)
    assert repeats <= BATCH  # at most the batch in flight when it was killed

    log = tmp_path / "follow.log"
    with log.open("wb") as out:
        follower = subprocess.Popen(
            [FIREBREAK, "audit", "forward"], env=env, stdout=out, stderr=out
        )
    wait(lambda: "forwarding to splunk" in log.read_text(), "the forwarder started")
    follower.send_signal(signal.SIGTERM)
    assert follower.wait(timeout=30) == 0
    tail = log.read_text().splitlines()
    assert tail[-1] == "forwarder stopped"
    assert tail[-2] == f"splunk: at position {head}, lag 0, forwarded {len(positions)}"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_mistakes_and_failures_are_one_line(store: EventStore, tmp_path: Path) -> None:
    env = forward_env(store, tmp_path, [])

    def forward(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FIREBREAK, "audit", "forward", *args],
            env=env | extra,
            capture_output=True,
            text=True,
            timeout=60,
        )

    none = forward("--once")
    assert (none.returncode, none.stderr) == (
        2,
        "firebreak: no sink: give --sink URL or set FIREBREAK_FORWARD_SINKS\n",
    )
    bad = forward("--sink", "hec+https://splunk:8088?token=s3cr3t-value")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "s3cr3t-value" not in bad.stderr
    port = free_port()
    unset = forward("--once", "--sink", f"hec+http://127.0.0.1:{port}?token_env=NOT_SET_ANYWHERE")
    assert (unset.returncode, unset.stderr) == (
        2,
        f"firebreak: sink hec+http://127.0.0.1:{port}: environment variable NOT_SET_ANYWHERE"
        " is not set\n",
    )
    fill(store, 2)
    down = forward("--once", "--sink", f"hec+http://127.0.0.1:{port}?token_env=TEST_HEC_TOKEN")
    assert down.returncode == 1
    assert down.stderr.startswith(f"firebreak: forwarding to hec+http://127.0.0.1:{port}: Connect")
    assert "Traceback" not in down.stderr and HEC_TOKEN not in down.stderr
