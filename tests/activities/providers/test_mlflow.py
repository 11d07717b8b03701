"""MlflowRegistry against a real `mlflow server`: playbook steps, then the registry read back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.errors import ProviderError
from activities.guard import ResourceGuard
from activities.models import ModelActivities
from activities.providers.mlflow import MlflowConfig, MlflowRegistry
from orchestrator.db import make_engine
from orchestrator.domain import ActionInput, Environment
from tests.support.providers import mlflow_post, register_model

API = "/api/2.0/mlflow"


async def _version_tags(url: str, name: str, version: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.get(
            API + "/model-versions/get", params={"name": name, "version": version}
        )
        return {t["key"]: t["value"] for t in response.json()["model_version"].get("tags", [])}


@pytest.fixture
async def registry(mlflow_server: str) -> AsyncIterator[MlflowRegistry]:
    provider = MlflowRegistry(
        MlflowConfig(url=mlflow_server, validation_metric="accuracy", validation_min=0.9)
    )
    yield provider
    await provider.aclose()


async def test_snapshot_rollback_validate_restore(
    mlflow_server: str, registry: MlflowRegistry
) -> None:
    name = await register_model(mlflow_server, [0.95, 0.93, 0.41], alias_version=3)

    snap = await registry.snapshot(name, "champion", idempotency_key="wf/snap")
    assert (snap.version, snap.source) == ("3", snap.source)
    assert snap.source.startswith(f"s3://models/{name}/")

    move = await registry.rollback(
        name, "champion", to_version=None, incident_id="inc-1", idempotency_key="wf/rb"
    )
    assert (move.from_version, move.to_version, move.changed) == ("3", "2", True)
    assert await registry.resolve(name, "champion") == "2"
    tags = await _version_tags(mlflow_server, name, "3")
    assert tags["firebreak.quarantined"] == "true"
    assert tags["firebreak.incident"] == "inc-1"

    again = await registry.rollback(
        name, "champion", to_version=None, incident_id="inc-1", idempotency_key="wf/rb"
    )
    assert (again.from_version, again.to_version, again.changed) == ("3", "2", False)
    assert await registry.resolve(name, "champion") == "2"

    good = await registry.validate(name, "2")
    assert good.passed and good.metrics["accuracy"] == pytest.approx(0.93)
    bad = await registry.validate(name, "3")
    assert not bad.passed and "quarantined" in bad.detail

    back = await registry.restore(name, "champion", "3", idempotency_key="wf/restore")
    assert (back.from_version, back.to_version, back.changed) == ("2", "3", True)
    assert "firebreak.quarantined" not in await _version_tags(mlflow_server, name, "3")
    repeat = await registry.restore(name, "champion", "3", idempotency_key="wf/restore")
    assert not repeat.changed


async def test_rollback_prefers_known_good_tag_and_skips_quarantined(
    mlflow_server: str, registry: MlflowRegistry
) -> None:
    name = await register_model(mlflow_server, [0.95, 0.5, 0.6, 0.2], alias_version=4)
    async with httpx.AsyncClient(base_url=mlflow_server, timeout=10) as client:
        await mlflow_post(
            client,
            "/model-versions/set-tag",
            {"name": name, "version": "1", "key": "firebreak.known_good", "value": "true"},
        )
    move = await registry.rollback(
        name, "champion", to_version=None, incident_id="inc-2", idempotency_key="k1"
    )
    assert move.to_version == "1"
    with pytest.raises(ProviderError, match="quarantined") as caught:
        await registry.rollback(
            name, "champion", to_version="4", incident_id="inc-2", idempotency_key="k2"
        )
    assert not caught.value.retryable


async def test_rollback_without_an_older_good_version_asks_for_one(
    mlflow_server: str, registry: MlflowRegistry
) -> None:
    name = await register_model(mlflow_server, [0.9], alias_version=1)
    with pytest.raises(ProviderError, match=r"no known-good version .* pass to_version") as caught:
        await registry.rollback(
            name, "champion", to_version=None, incident_id="inc-3", idempotency_key="k"
        )
    assert not caught.value.retryable
    assert await registry.resolve(name, "champion") == "1"


async def test_validation_fails_below_threshold(
    mlflow_server: str, registry: MlflowRegistry
) -> None:
    name = await register_model(mlflow_server, [0.5], alias_version=1)
    report = await registry.validate(name, "1")
    assert not report.passed
    assert report.detail == "accuracy=0.5, minimum 0.9"


async def test_unreachable_server_is_retryable() -> None:
    provider = MlflowRegistry(MlflowConfig(url="http://127.0.0.1:9", timeout_seconds=2))
    with pytest.raises(ProviderError, match="cannot connect") as caught:
        await provider.resolve("m", "champion")
    assert caught.value.retryable
    await provider.aclose()


async def test_a_retrained_version_is_evaluated_and_promoted_through_the_activities(
    mlflow_server: str, registry: MlflowRegistry, migrated_sqlite_url: str
) -> None:
    """`models.evaluate` and `models.promote` over MLflow: the metric the training run logged,
    compared to the threshold and to the version serving now; the alias moves, and back."""
    name = await register_model(mlflow_server, [0.95, 0.93, 0.41, 0.96, 0.92], alias_version=2)
    engine = make_engine(migrated_sqlite_url)  # the guard's claims live in the database
    models = ModelActivities(registry, ResourceGuard(engine, 3600))
    env = ActivityEnvironment()

    def step(action: str, **params: str) -> ActionInput:
        return ActionInput(
            incident_id="inc-1",
            step_id=action,
            action=action,
            params={"model": name, **params},
            idempotency_key=f"inc-1/{action}",
            environment=Environment.prod,
        )

    better = await env.run(
        models.evaluate,
        step("models.evaluate", version="4", baseline_version="2", min_score="0.95"),
    )
    assert better.outputs["passed"] == "true"
    assert (better.outputs["score"], better.outputs["baseline_score"]) == ("0.96", "0.93")
    worse = await env.run(
        models.evaluate,
        step("models.evaluate", version="5", baseline_version="2", min_score="0.9"),
    )
    assert worse.outputs["passed"] == "false"
    assert worse.outputs["detail"] == "accuracy 0.9200 is below version 2's 0.9300"

    promoted = await env.run(models.promote, step("models.promote", version="4", alias="champion"))
    assert promoted.changed and await registry.resolve(name, "champion") == "4"
    assert promoted.inverse_params == {"model": name, "alias": "champion", "version": "2"}
    back = await registry.restore(name, "champion", "2", idempotency_key="inc-1/undo")
    assert back.changed and await registry.resolve(name, "champion") == "2"
