"""`firebreak worker --forward`: the worker process also forwards the ledger to the sinks of
FIREBREAK_FORWARD_SINKS, and stops both on SIGTERM; without a sink it refuses to start."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from orchestrator.audit import EventStore
from orchestrator.db import make_engine, upgrade
from orchestrator.security.keyring import KeyRing
from tests.e2e.stack import env_for
from tests.forwarding.conftest import fill
from tests.support.siem import HEC_TOKEN, HecServer

FIREBREAK = str(Path(sys.executable).parent / "firebreak")


def test_worker_forwards_until_stopped(
    temporal_dev_env: WorkflowEnvironment, hec_server: HecServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    url = f"sqlite:///{data_dir / 'firebreak.db'}"
    upgrade(url)
    engine = make_engine(url)
    store = EventStore(engine, keyring=KeyRing.generate())
    events = fill(store, 12)
    port = hec_server.url.rsplit(":", 1)[1]
    env = env_for(
        data_dir,
        FIREBREAK_TASK_QUEUE=f"fwd-{uuid.uuid4().hex[:8]}",
        FIREBREAK_TEMPORAL_ADDRESS=temporal_dev_env.client.service_client.config.target_host,
        FIREBREAK_FORWARD_SINKS=json.dumps(
            [f"hec+http://127.0.0.1:{port}?token_env=TEST_HEC_TOKEN&name=splunk"]
        ),
        FIREBREAK_FORWARD_POLL_SECONDS="0.1",
        TEST_HEC_TOKEN=HEC_TOKEN,
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [FIREBREAK, "worker", "--forward"], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 90
        while len(hec_server.accepted) < 12 and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()
            time.sleep(0.1)
        assert [e["fields"]["firebreak_id"] for e in hec_server.accepted] == [e.id for e in events]
        more = fill(store, 2, stream="incident-2")[12:]
        while len(hec_server.accepted) < 14 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [e["fields"]["firebreak_id"] for e in hec_server.accepted[12:]] == [
            e.id for e in more
        ]
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
        engine.dispose()
    text = log.read_text()
    assert code == 0, text
    assert "forwarding to splunk (jsonl, sealed=keep)" in text
    assert text.splitlines()[-1] == "worker stopped"


def test_worker_forward_without_a_sink_refuses_to_start(tmp_path: Path) -> None:
    upgrade(f"sqlite:///{tmp_path / 'firebreak.db'}")
    result = subprocess.run(
        [FIREBREAK, "worker", "--forward"],
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (
        2,
        "firebreak: no sink: set FIREBREAK_FORWARD_SINKS\n",
    )


def test_worker_forward_with_a_broken_sink_refuses_to_start(tmp_path: Path) -> None:
    """A sink's secret variable not set stops the worker before it polls, not later in a
    background task that would leave it running without forwarding."""
    upgrade(f"sqlite:///{tmp_path / 'firebreak.db'}")
    env = env_for(
        tmp_path,
        FIREBREAK_FORWARD_SINKS=json.dumps(["hec+http://127.0.0.1:9?token_env=UNSET_HEC_TOKEN"]),
    )
    result = subprocess.run(
        [FIREBREAK, "worker", "--forward"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "firebreak: sink hec+http://127.0.0.1:9: environment variable UNSET_HEC_TOKEN is not set"
    )
