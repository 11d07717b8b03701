"""The ModelRegistry contract against the filesystem registry and MLflow's Model Registry on a
real `mlflow server`."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.effects import EffectRecords
from activities.providers.local import training
from activities.providers.local.lab import transactions
from activities.providers.local.models import QUARANTINE_TAG, LocalModelRegistry
from activities.providers.mlflow import INCIDENT, QUARANTINED, MlflowConfig, MlflowRegistry
from activities.recorded import RecordedModels
from tests.activities.providers.contract_models import ALIAS, ModelRegistryContract
from tests.support.providers import mlflow_post, register_model

UNTRAINED = {"feature": training.FEATURE, "threshold": 1e9}
"""Flags no transaction as fraud: far below the registry's minimum accuracy."""


class TestLocalModelRegistry(ModelRegistryContract):
    @pytest.fixture(autouse=True)
    def system(self, tmp_path: Path, effect_records: EffectRecords) -> None:
        self.root = tmp_path
        self.registry = LocalModelRegistry(tmp_path)
        self.provider = RecordedModels(self.registry, effect_records)

    async def make_model(self, good: list[bool], serving: str) -> str:
        model = f"fraud-{uuid.uuid4().hex[:8]}"
        rows = transactions(random.Random(len(good)), 300)
        self.registry.create_model(model, rows, min_accuracy=0.9)
        for number, ok in enumerate(good, start=1):
            self.registry.register(
                model,
                training.train(rows) if ok else UNTRAINED,
                source=f"contract:{number}",
                lineage={},
                created_at="2026-01-01T00:00:00+00:00",
                registration_key=f"contract-{number}",
            )
        self.registry.set_alias(model, ALIAS, serving)
        return model

    async def deploy(self, model: str, version: str) -> None:
        self.registry.set_alias(model, ALIAS, version)

    async def quarantined_by(self, model: str, version: str) -> str | None:
        return self.registry.tags(model, version).get(QUARANTINE_TAG)

    async def observe(self, model: str) -> object:
        """Aliases, tags and snapshots from `state.json` (effect records left out), and the
        versions."""
        state = json.loads((self.root / model / "state.json").read_text())
        return {k: v for k, v in state.items() if k != "effects"}, self.registry.versions(model)


class TestMlflowRegistry(ModelRegistryContract):
    @pytest.fixture(autouse=True)
    async def system(
        self, mlflow_server: str, effect_records: EffectRecords
    ) -> AsyncIterator[None]:
        self.url = mlflow_server
        self.registry = MlflowRegistry(
            MlflowConfig(url=mlflow_server, validation_metric="accuracy", validation_min=0.9)
        )
        self.provider = RecordedModels(self.registry, effect_records)
        self.client = httpx.AsyncClient(base_url=mlflow_server + "/api/2.0/mlflow", timeout=10)
        yield
        await self.client.aclose()
        await self.registry.aclose()

    async def make_model(self, good: list[bool], serving: str) -> str:
        accuracies = [0.95 if ok else 0.41 for ok in good]
        return await register_model(self.url, accuracies, alias_version=int(serving))

    async def deploy(self, model: str, version: str) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            body = {"name": model, "alias": ALIAS, "version": version}
            await mlflow_post(client, "/registered-models/alias", body)

    async def _get(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self.client.get(path, params=params)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def quarantined_by(self, model: str, version: str) -> str | None:
        found = await self._get("/model-versions/get", name=model, version=version)
        tags = {t["key"]: t["value"] for t in found["model_version"].get("tags", [])}
        return tags.get(INCIDENT) if tags.get(QUARANTINED) == "true" else None

    async def observe(self, model: str) -> object:
        registered = (await self._get("/registered-models/get", name=model))["registered_model"]
        versions = await self._get("/model-versions/search", filter=f"name='{model}'")
        return (
            sorted((t["key"], t["value"]) for t in registered.get("tags", [])),
            sorted((a["alias"], a["version"]) for a in registered.get("aliases", [])),
            sorted(
                (v["version"], sorted((t["key"], t["value"]) for t in v.get("tags", [])))
                for v in versions.get("model_versions", [])
            ),
        )
