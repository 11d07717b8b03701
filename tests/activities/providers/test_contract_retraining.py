"""The RetrainingRunner contract against the local runner (a real training thread over the
local registry and dataset store) and the Airflow, Argo, GitHub Actions and webhook runners,
each on a loopback server speaking that system's API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from activities.effects import EffectRecords
from activities.providers.local.datasets import LocalDatasetStore
from activities.providers.local.lab import seed_demo_lab
from activities.providers.local.models import LocalModelRegistry
from activities.providers.local.paths import LocalPaths
from activities.providers.local.retraining import TRAINING_FILE, LocalRetrainingRunner
from activities.providers.protocols import RetrainingRunner
from activities.providers.retraining import (
    AirflowRunner,
    ArgoRunner,
    GitHubActionsRunner,
    PipelineConfig,
    WebhookRunner,
)
from activities.recorded import RecordedRetraining
from tests.activities.providers.contract_retraining import Outcome, RetrainingRunnerContract
from tests.activities.providers.fake_pipelines import (
    TOKEN,
    TOKEN_ENV,
    AirflowPipeline,
    ArgoPipeline,
    FakePipeline,
    GitHubPipeline,
    WebhookPipeline,
)
from tests.support.providers import Loopback

PARAMETERS = ("model", "dataset", "dataset_version", "incident_id")


class TestLocalRetrainingRunner(RetrainingRunnerContract):
    @pytest.fixture(autouse=True)
    def system(self, tmp_path: Path, effect_records: EffectRecords) -> Iterator[None]:
        self.lab, self.paths = seed_demo_lab(tmp_path), LocalPaths.under(tmp_path)
        datasets = LocalDatasetStore(self.paths.datasets)
        datasets.add_version(self.lab.dataset, "v-empty", {TRAINING_FILE: b"amount,label\n"})
        self.runner = LocalRetrainingRunner(
            self.paths.retraining, LocalModelRegistry(self.paths.models), datasets
        )
        self.provider = RecordedRetraining(self.runner, effect_records)
        yield
        self.runner.join(timeout=30)

    async def target(self, outcome: Outcome) -> tuple[str, str, str]:
        version = self.lab.clean_version if outcome == "succeeded" else "v-empty"
        return self.lab.model, self.lab.dataset, version

    async def finish(self, run_id: str, outcome: Outcome) -> None:
        """The run trains on its dataset: the clean one succeeds, the empty one fails."""
        self.runner.join(timeout=30)

    async def runs(self) -> dict[str, dict[str, str]]:
        path = self.paths.retraining / "runs.json"
        runs = json.loads(path.read_text())["runs"] if path.exists() else {}
        return {run_id: {k: run[k] for k in PARAMETERS} for run_id, run in runs.items()}


class OnPipeline:
    """A runner over a fake pipeline on loopback."""

    fake: type[FakePipeline]
    runner: type[AirflowRunner | ArgoRunner | GitHubActionsRunner | WebhookRunner]
    target_name = ""
    path = ""
    pipeline: FakePipeline
    provider: RetrainingRunner

    @pytest.fixture(autouse=True)
    async def system(
        self, loopback: Loopback, monkeypatch: pytest.MonkeyPatch, effect_records: EffectRecords
    ) -> AsyncIterator[None]:
        monkeypatch.setenv(TOKEN_ENV, TOKEN)
        loopback.handler = self.pipeline = self.fake()
        config = PipelineConfig(
            url=loopback.url + self.path,
            target=self.target_name,
            token_env=TOKEN_ENV,
            username=self.pipeline.username,
            namespace="ml",
        )
        http = self.runner(config)
        self.provider = RecordedRetraining(http, effect_records)
        yield
        await http.aclose()

    async def target(self, outcome: Outcome) -> tuple[str, str, str]:
        return "fraud-detector", "transactions", "v7"

    async def finish(self, run_id: str, outcome: Outcome) -> None:
        self.pipeline.finish(run_id, outcome)

    async def runs(self) -> dict[str, dict[str, str]]:
        return self.pipeline.parameters()


class TestAirflowRunner(OnPipeline, RetrainingRunnerContract):
    fake, runner, target_name = AirflowPipeline, AirflowRunner, "retrain"


class TestArgoRunner(OnPipeline, RetrainingRunnerContract):
    fake, runner, target_name = ArgoPipeline, ArgoRunner, "retrain-template"


class TestGitHubActionsRunner(OnPipeline, RetrainingRunnerContract):
    fake, runner, target_name = GitHubPipeline, GitHubActionsRunner, "acme/ml/retrain.yml"


class TestWebhookRunner(OnPipeline, RetrainingRunnerContract):
    fake, runner, path = WebhookPipeline, WebhookRunner, "/retrain"
