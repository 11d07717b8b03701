"""Real providers inside a real worker on the Temporal dev server: the playbook's model steps
against a real MLflow server, and a gateway revoke whose secret never reaches Temporal history."""

from __future__ import annotations

import base64
import dataclasses
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.effects import EffectRecords
from activities.factory import Providers, activities_for, build_providers, recorded
from activities.guard import ResourceGuard
from activities.providers.http_keys import HttpKeyProvider, litellm
from activities.providers.mlflow import MlflowConfig, MlflowRegistry
from orchestrator import db
from orchestrator.domain import ActionInput, ActionResult, Environment
from orchestrator.settings import load_settings
from tests.activities.retrain_workflow import RunOneAction
from tests.support.providers import Loopback, Recorded, Reply, register_model

SECRET = "sk-litellm-master-0b9e1d"


@asynccontextmanager
async def worker_with(
    env: WorkflowEnvironment, tmp_path: Path, **replaced: object
) -> AsyncIterator[Callable[[str, dict[str, str]], object]]:
    """A worker over the local providers with `replaced` ones; yields a one-action runner."""
    client = Client(**{**env.client.config(), "data_converter": pydantic_data_converter})
    settings = load_settings(data_dir=tmp_path)
    db.upgrade(settings.db_url)
    providers: Providers = dataclasses.replace(build_providers(settings), **replaced)
    engine = db.make_engine(settings.db_url)
    guard = ResourceGuard(engine, 0)
    queue = f"providers-{uuid.uuid4()}"

    async def start(action: str, params: dict[str, str]) -> WorkflowHandle[object, ActionResult]:
        inp = ActionInput(
            incident_id="inc-t",
            step_id=action,
            action=action,
            params=params,
            idempotency_key=f"inc-t/{action}",
            environment=Environment.prod,
        )
        return await client.start_workflow(
            RunOneAction.run,
            inp,
            id=f"wf-{uuid.uuid4()}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=60),
        )

    async with Worker(
        client,
        task_queue=queue,
        workflows=[RunOneAction],
        activities=activities_for(recorded(providers, EffectRecords(engine)), guard),
    ):
        yield start
    engine.dispose()


async def test_model_playbook_steps_against_mlflow(
    mlflow_server: str, temporal_dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    name = await register_model(mlflow_server, [0.97, 0.95, 0.3], alias_version=3)
    registry = MlflowRegistry(
        MlflowConfig(url=mlflow_server, validation_metric="accuracy", validation_min=0.9)
    )
    async with worker_with(temporal_dev_env, tmp_path, models=registry) as start:
        params = {"model": name, "alias": "champion"}
        snap = await (await start("models.snapshot", params)).result()
        assert snap.outputs["version"] == "3"
        rolled = await (await start("models.rollback", params)).result()
        assert (rolled.outputs["from_version"], rolled.outputs["to_version"]) == ("3", "2")
        assert rolled.inverse_params == {"model": name, "alias": "champion", "version": "3"}
        valid = await (await start("models.validate", params)).result()
        assert valid.changed is False and "accuracy" in valid.summary
    async with httpx.AsyncClient(base_url=mlflow_server) as client:
        alias = await client.get(
            "/api/2.0/mlflow/registered-models/alias", params={"name": name, "alias": "champion"}
        )
        bad = await client.get(
            "/api/2.0/mlflow/model-versions/get", params={"name": name, "version": "3"}
        )
    assert alias.json()["model_version"]["version"] == "2"
    tags = {t["key"]: t["value"] for t in bad.json()["model_version"]["tags"]}
    assert tags == {"firebreak.quarantined": "true", "firebreak.incident": "inc-t"}
    await registry.aclose()


def _history_text(history_json: str) -> str:
    """The history as JSON plus every payload decoded, so an encoded secret is found too."""
    decoded = [
        base64.b64decode(blob).decode(errors="replace")
        for blob in re.findall(r'"data":\s*"([A-Za-z0-9+/=]+)"', history_json)
    ]
    return history_json + "\n".join(decoded)


async def test_gateway_secret_never_reaches_temporal_history(
    loopback: Loopback,
    temporal_dev_env: WorkflowEnvironment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocked: dict[str, bool] = {"hashed-key-1": False}
    attempts = {"n": 0}

    def gateway(request: Recorded) -> Reply:
        attempts["n"] += 1
        if request.headers.get("authorization") != f"Bearer {SECRET}":
            return 401, {}, {"error": {"message": f"bad key {request.headers['authorization']}"}}
        if attempts["n"] == 1:
            return 503, {}, {"error": "warming up"}
        key = request.json()["key"] if request.body else request.query["key"][0]
        if request.path == "/key/block":
            blocked[key] = True
        return 200, {}, {"key": key, "info": {"blocked": blocked[key]}, "token": SECRET}

    loopback.handler = gateway
    monkeypatch.setenv("LITELLM_MASTER_KEY", SECRET)
    keys = HttpKeyProvider(litellm(loopback.url, "LITELLM_MASTER_KEY"))
    async with worker_with(temporal_dev_env, tmp_path, keys=keys) as start:
        handle = await start("keys.revoke", {"key_id": "hashed-key-1"})
        result = await handle.result()
        assert result.changed and blocked["hashed-key-1"]
        assert attempts["n"] >= 3, "the 503 was retried by Temporal"
        ok_history = (await handle.fetch_history()).to_json()

        monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-wrong-" + SECRET)
        failing = await start("keys.restore", {"key_id": "hashed-key-1"})
        with pytest.raises(WorkflowFailureError) as caught:
            await failing.result()
        failed_history = (await failing.fetch_history()).to_json()

    assert isinstance(caught.value.cause, ActivityError)
    app = caught.value.cause.cause
    assert isinstance(app, ApplicationError) and app.non_retryable
    assert "authentication failed" in app.message
    for history in (ok_history, failed_history):
        assert SECRET not in _history_text(history)
    assert "hashed-key-1" in _history_text(ok_history)
    await keys.aclose()
