"""`firebreak worker --detect`: the worker runs detection beside the workflows, over the
inputs of FIREBREAK_DETECT_INPUTS, posting to a real API under uvicorn, until SIGINT."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import sqlalchemy as sa
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from orchestrator import db
from orchestrator.audit import open_event_store
from orchestrator.detection.store import BaselineStore
from orchestrator.settings import Settings
from orchestrator.temporal.worker import run_worker
from tests.support.app import alerts_recorded
from tests.support.incidents import eventually
from tests.support.principals import Tokens


async def test_the_worker_raises_what_it_detects_until_stopped(
    api_alone: tuple[str, Tokens],
    fb_settings: Settings,
    temporal_dev_env: WorkflowEnvironment,
    tmp_path: Path,
) -> None:
    url, tokens = api_alone
    log = tmp_path / "gateway.jsonl"
    log.write_text("")
    settings = fb_settings.model_copy(
        update={
            "temporal_address": temporal_dev_env.client.service_client.config.target_host,
            "api_url": url,
            "detect_token": SecretStr(tokens.source),
            "detect_inputs": [f"jsonl:{log}"],
            "detect_save_seconds": 0.2,
        }
    )
    lines: list[str] = []
    worker = asyncio.create_task(run_worker(settings, announce=lines.append, detect=True))
    await eventually(lambda: any(line.startswith("detect:") for line in lines), timeout=60)
    assert not worker.done(), lines
    hit = {"at": "2026-11-02T10:00:00Z", "caller": "mallory", "marker": "canary:prompt-1"}
    with log.open("a") as out:  # the followed file grows while the worker runs
        out.write(json.dumps({**hit, "api_key": "key-m", "network": "192.0.2.0/24"}) + "\n")
    store = open_event_store(settings)
    await eventually(lambda: alerts_recorded(store) == 1 or worker.done(), timeout=60)
    assert not worker.done(), (lines, worker.exception())

    def opened() -> bool:
        with store.engine.connect() as conn:
            query = sa.text("SELECT count(*) FROM audit_events WHERE type = 'IncidentOpened'")
            return int(conn.execute(query).scalar_one()) == 1

    await eventually(opened, timeout=60)
    os.kill(os.getpid(), signal.SIGINT)
    await asyncio.wait_for(worker, 60)
    baselines = BaselineStore(db.make_engine(settings.db_url))
    assert [r["subject"] for r in baselines.rows("leaked_key")] == ["key-m"]
