"""retraining.run: trigger, poll with heartbeats, resume from heartbeat details."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from temporalio.exceptions import ApplicationError

from activities.providers.local.datasets import LocalDatasetStore
from activities.providers.local.models import LocalModelRegistry
from activities.providers.local.retraining import LocalRetrainingRunner
from tests.activities.conftest import Lab

PARAMS = {"model": "fraud-detector", "dataset": "transactions"}


def runner(lab: Lab) -> LocalRetrainingRunner:
    return LocalRetrainingRunner(
        lab.paths.retraining,
        LocalModelRegistry(lab.paths.models),
        LocalDatasetStore(lab.paths.datasets),
    )


def runs(lab: Lab) -> dict[str, dict[str, str]]:
    runs: dict[str, dict[str, str]] = json.loads((lab.paths.retraining / "runs.json").read_text())[
        "runs"
    ]
    return runs


async def test_run_trains_a_new_version_on_the_clean_dataset(lab: Lab) -> None:
    result = await lab.run("retraining.run", PARAMS)
    assert result.changed and result.outputs["model_version"] == "4"
    meta = LocalModelRegistry(lab.paths.models).metadata("fraud-detector", "4")
    assert meta["lineage"]["dataset_version"] == "v1"
    assert meta["source"] == f"retraining:{result.outputs['run_id']}"
    assert lab.heartbeats and all(h == (result.outputs["run_id"],) for h in lab.heartbeats)
    validated = await lab.run("models.validate", {"model": "fraud-detector", "version": "4"})
    assert float(validated.outputs["metric.accuracy"]) >= 0.9


async def test_retry_with_the_same_key_does_not_train_twice(lab: Lab) -> None:
    first = await lab.run("retraining.run", PARAMS, key="wf/retrain")
    again = await lab.run("retraining.run", PARAMS, key="wf/retrain")
    assert again.outputs["run_id"] == first.outputs["run_id"]
    assert len(runs(lab)) == 1
    assert LocalModelRegistry(lab.paths.models).versions("fraud-detector") == ["1", "2", "3", "4"]


async def test_a_retried_attempt_resumes_polling_the_run_in_its_heartbeat(lab: Lab) -> None:
    started = await runner(lab).trigger(
        "fraud-detector",
        "transactions",
        "v1",
        incident_id="incident-a",
        idempotency_key="attempt-1",
    )
    result = await lab.run(
        "retraining.run", PARAMS, key="attempt-2", heartbeat_details=[started.run_id]
    )
    assert result.outputs["run_id"] == started.run_id
    assert list(runs(lab)) == [started.run_id], "a resumed attempt must not trigger again"


async def test_a_failed_run_fails_the_activity_without_retry(lab: Lab) -> None:
    (lab.paths.datasets / "transactions" / "v1" / "data.csv").write_text("garbage\n")
    with pytest.raises(ApplicationError) as caught:
        await lab.run("retraining.run", {**PARAMS, "version": "v1"})
    assert caught.value.type == "RetrainingFailed" and caught.value.non_retryable
    assert "no training rows" in str(caught.value)


async def test_a_run_orphaned_by_a_dead_worker_is_adopted_and_finishes(lab: Lab) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    lab.paths.retraining.mkdir(parents=True, exist_ok=True)
    (lab.paths.retraining / "runs.json").write_text(
        json.dumps(
            {
                "runs": {
                    "run-orphan": {
                        "model": "fraud-detector",
                        "dataset": "transactions",
                        "dataset_version": "v1",
                        "incident_id": "incident-a",
                        "state": "running",
                        "created_at": "2026-03-01T00:00:00",
                        "owner_pid": int(dead.stdout),
                        "model_version": None,
                        "detail": "",
                    }
                }
            }
        )
    )
    result = await lab.run("retraining.run", PARAMS, heartbeat_details=["run-orphan"])
    assert result.outputs["run_id"] == "run-orphan" and result.outputs["model_version"] == "4"


async def test_dry_run_names_the_clean_version_and_triggers_nothing(lab: Lab) -> None:
    result = await lab.run("retraining.run", PARAMS, dry_run=True)
    assert result.summary == "dry run: would retrain fraud-detector on transactions@v1"
    assert not (lab.paths.retraining / "runs.json").exists()
