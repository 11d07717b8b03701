"""Local retraining runner: trains a new model version in a background thread.

Runs live in `runs.json` (state, owner process, result). `trigger` records a run once per
idempotency key and starts the job; `status` reports it. A run whose owner process died (the
worker was killed mid-training) is adopted by the next `status` call and started again: the
job registers its model version under the run id, so a restarted job never adds a second one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.errors import ResourceNotFound
from activities.providers.local import training
from activities.providers.local.datasets import LocalDatasetStore
from activities.providers.local.models import LocalModelRegistry
from activities.providers.local.state import Document, JsonState
from activities.providers.protocols import RetrainingRun
from activities.providers.runs import RequestRunner, RunRequest

log = logging.getLogger(__name__)
TRAINING_FILE = "data.csv"
_ACTIVE = ("queued", "running")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalRetrainingRunner(RequestRunner):
    def __init__(
        self, root: Path, registry: LocalModelRegistry, datasets: LocalDatasetStore
    ) -> None:
        self.state = JsonState(root / "runs.json", lambda: {"runs": {}})
        self.registry = registry
        self.datasets = datasets
        self._threads: dict[str, threading.Thread] = {}
        self._threads_lock = threading.Lock()

    def _run_model(self, run_id: str, run: dict[str, Any]) -> RetrainingRun:
        return RetrainingRun(
            run_id=run_id,
            state=run["state"],
            model_version=run.get("model_version"),
            detail=run.get("detail", ""),
        )

    def _trigger(self, request: RunRequest, key: str) -> RetrainingRun:
        self.registry.versions(request.model)
        self.datasets.locate(request.dataset, request.dataset_version)

        def apply(doc: Document) -> RetrainingRun:
            run_id = f"run-{uuid.uuid4().hex[:12]}"
            doc["runs"][run_id] = {
                **request.parameters(),
                "state": "queued",
                "created_at": _now(),
                "owner_pid": os.getpid(),
                "model_version": None,
                "detail": "",
            }
            return self._run_model(run_id, doc["runs"][run_id])

        run = self.state.effect_once("trigger", key, RetrainingRun, apply)
        self._ensure_running(run.run_id)
        return self._status(run.run_id)

    async def start(self, request: RunRequest, idempotency_key: str) -> RetrainingRun:
        return await asyncio.to_thread(self._trigger, request, idempotency_key)

    def _status(self, run_id: str) -> RetrainingRun:
        run = self.state.read()["runs"].get(run_id)
        if run is None:
            raise ResourceNotFound(f"no retraining run {run_id!r}")
        return self._run_model(run_id, run)

    async def status(self, run_id: str) -> RetrainingRun:
        def check() -> RetrainingRun:
            self._ensure_running(run_id)
            return self._status(run_id)

        return await asyncio.to_thread(check)

    def _ensure_running(self, run_id: str) -> None:
        """Start the job unless it is finished or alive here or in a live owner process."""
        with self._threads_lock:
            thread = self._threads.get(run_id)
            if thread is not None and thread.is_alive():
                return
            with self.state.update() as doc:
                run = doc["runs"].get(run_id)
                if run is None or run["state"] not in _ACTIVE:
                    return
                owner = int(run["owner_pid"])
                if owner != os.getpid() and _pid_alive(owner):
                    return
                run["owner_pid"] = os.getpid()
            thread = threading.Thread(
                target=self._job, args=(run_id,), name=f"retrain-{run_id}", daemon=True
            )
            self._threads[run_id] = thread
            thread.start()

    def _set(self, run_id: str, **fields: Any) -> None:
        with self.state.update() as doc:
            doc["runs"][run_id].update(fields, updated_at=_now())

    def _job(self, run_id: str) -> None:
        run = self.state.read()["runs"][run_id]
        self._set(run_id, state="running")
        try:
            source = self.datasets.locate(run["dataset"], run["dataset_version"])
            rows = training.read_rows(source / TRAINING_FILE)
            weights = training.train(rows)
            registered = self.registry.register(
                run["model"],
                weights,
                source=f"retraining:{run_id}",
                lineage={
                    "dataset": run["dataset"],
                    "dataset_version": run["dataset_version"],
                    "incident_id": run["incident_id"],
                },
                created_at=_now(),
                registration_key=run_id,
            )
        except Exception as exc:
            log.warning("retraining run %s failed: %s", run_id, exc)
            self._set(run_id, state="failed", detail=f"{type(exc).__name__}: {exc}")
            return
        self._set(
            run_id,
            state="succeeded",
            model_version=registered.version,
            detail=f"trained on {len(rows)} rows of {run['dataset']}@{run['dataset_version']}",
        )

    def join(self, timeout: float | None = None) -> None:
        """Wait for this process's jobs (tests and orderly shutdown)."""
        with self._threads_lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)
