"""Crash test: `firebreak worker` processes are killed with SIGKILL mid-incident; new ones
finish it. Each effect happens once and the audit stream has every event exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.providers.local.lab import LabInfo
from activities.providers.local.models import LocalModelRegistry
from activities.providers.local.paths import LocalPaths
from orchestrator.audit import open_event_store
from orchestrator.domain import Decision, Environment
from orchestrator.errors import Unavailable
from orchestrator.settings import Settings
from orchestrator.temporal.incidents import DecisionPending, decide, submit_alert
from tests.support.incidents import (
    audit_stream,
    decision,
    event_types,
    final_state,
    make_alert,
    payloads,
    wait_for_pending,
)

EXPECTED = Counter(
    {
        "IncidentOpened": 1,
        "AlertAttached": 1,
        "PhaseStarted": 4,
        "PhaseCompleted": 4,
        "StepStarted": 13,
        "StepSucceeded": 13,
        "StepSkipped": 1,
        "EvidenceCollected": 3,
        "StepRequested": 4,
        "NotificationSent": 4,
        "StepApproved": 6,
        "StepCompensated": 1,
        "IncidentContained": 1,
        "IncidentResolved": 1,
        "IncidentClosed": 1,
    }
)


async def decide_until_answered(client: Client, incident_id: str, d: Decision) -> None:
    """A worker that has just started may not answer the first update in time (the decision
    is then pending, or Temporal did not take it yet); the same decision is safe to send
    again and is applied once."""
    for _ in range(20):
        try:
            await decide(client, incident_id, d)
            return
        except (Unavailable, DecisionPending):
            await asyncio.sleep(0.5)
    raise AssertionError("no worker answered the decision")


class WorkerProcess:
    """`firebreak worker` as a child process on the test's server and task queue."""

    def __init__(self, env: WorkflowEnvironment, settings: Settings, log: Path) -> None:
        self.env = {
            **os.environ,
            "FIREBREAK_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "FIREBREAK_DATA_DIR": str(settings.data_dir),
            "FIREBREAK_TASK_QUEUE": settings.task_queue,
            "FIREBREAK_INCIDENT_QUIET_SECONDS": "0",
        }
        self.log = log
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        firebreak = Path(sys.executable).parent / "firebreak"
        with self.log.open("ab") as out:
            proc = subprocess.Popen([str(firebreak), "worker"], env=self.env, stderr=out)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def workers(
    temporal_dev_env: WorkflowEnvironment, fb_settings: Settings, tmp_path: Path
) -> Iterator[WorkerProcess]:
    procs = WorkerProcess(temporal_dev_env, fb_settings, tmp_path / "worker.log")
    yield procs
    procs.stop_all()


@pytest.mark.slow
async def test_incident_survives_killed_workers(
    workers: WorkerProcess, dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, "data_poisoning", Environment.prod)
    first = workers.start()
    inc = (await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)).incident_id
    await wait_for_pending(dev_client, inc, "quarantine-dataset")
    first.kill()  # SIGKILL while the incident waits for an approval
    first.wait()

    second = workers.start()
    await decide_until_answered(dev_client, inc, decision("quarantine-dataset"))
    await wait_for_pending(dev_client, inc, "rollback-model")
    await decide(dev_client, inc, decision("rollback-model"))
    await decide(dev_client, inc, decision("rollback-model", principal="bob"))
    await asyncio.sleep(0.05)
    second.kill()  # SIGKILL while the rollback runs or has just run
    second.wait()

    last = workers.start()
    await wait_for_pending(dev_client, inc, "promote-retrained", timeout=180)
    await decide_until_answered(dev_client, inc, decision("promote-retrained"))
    await decide_until_answered(dev_client, inc, decision("promote-retrained", principal="bob"))
    await wait_for_pending(dev_client, inc, "restore-ingest-key", timeout=180)
    await decide_until_answered(dev_client, inc, decision("restore-ingest-key", principal="carol"))
    final = await final_state(dev_client, alert.workflow_id, timeout=180)
    last.send_signal(signal.SIGTERM)
    assert last.wait(timeout=30) == 0, "SIGTERM shuts the worker down cleanly"

    assert final.outcome == "resolved"
    events = audit_stream(fb_settings, inc)
    assert Counter(event_types(events)) == EXPECTED
    assert len({e.id for e in events}) == len(events)
    rollbacks = [p for p in payloads(events, "StepSucceeded") if p["step_id"] == "rollback-model"]
    assert [r["result"]["outputs"]["to_version"] for r in rollbacks] == [lab.known_good_version]
    registry = LocalModelRegistry(LocalPaths.under(lab.data_dir).models)
    promoted = [p for p in payloads(events, "StepSucceeded") if p["step_id"] == "promote-retrained"]
    assert [p["result"]["outputs"]["from_version"] for p in promoted] == [lab.known_good_version]
    assert (
        await registry.resolve(lab.model, "production")
        == promoted[0]["result"]["outputs"]["to_version"]
    )
    assert open_event_store(fb_settings).verify().ok
