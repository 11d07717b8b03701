"""Retraining runners against the loopback pipelines of `fake_pipelines`: what the contract
suite does not state (each system's wire format, state mapping, credentials, bad replies)."""

from __future__ import annotations

from typing import Any

import pytest

from activities.errors import ProviderError, ResourceNotFound
from activities.providers.retraining import (
    AirflowRunner,
    ArgoRunner,
    GitHubActionsRunner,
    PipelineConfig,
    WebhookRunner,
    run_name,
)
from tests.activities.providers.fake_pipelines import (
    TOKEN,
    TOKEN_ENV,
    USER,
    AirflowPipeline,
    ArgoPipeline,
    GitHubPipeline,
    WebhookPipeline,
)
from tests.support.providers import Loopback

PARAMS = {"model": "fraud", "dataset": "tx", "dataset_version": "v7", "incident_id": "inc-3"}


@pytest.fixture(autouse=True)
def pipeline_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


async def _trigger(runner: Any, key: str = "wf/retrain") -> Any:
    return await runner.trigger("fraud", "tx", "v7", incident_id="inc-3", idempotency_key=key)


async def test_airflow_trigger_is_idempotent_and_states_map(loopback: Loopback) -> None:
    loopback.handler = airflow = AirflowPipeline()
    runs = airflow.runs
    config = PipelineConfig(url=loopback.url, target="retrain", token_env=TOKEN_ENV, username=USER)
    runner = AirflowRunner(config)
    first = await _trigger(runner)
    assert (first.run_id, first.state) == (run_name("wf/retrain"), "queued")
    assert runs[first.run_id]["conf"] == PARAMS
    again = await _trigger(runner)
    assert again.run_id == first.run_id and len(runs) == 1
    for raw, state in [("running", "running"), ("success", "succeeded"), ("failed", "failed")]:
        runs[first.run_id]["state"] = raw
        assert (await runner.status(first.run_id)).state == state
    with pytest.raises(ResourceNotFound, match="airflow: trigger DAG nope"):
        await _trigger(AirflowRunner(PipelineConfig(**{**config.__dict__, "target": "nope"})))


async def test_airflow_wrong_password_is_not_retryable(
    loopback: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    loopback.handler = AirflowPipeline()
    monkeypatch.setenv(TOKEN_ENV, "wrong")
    runner = AirflowRunner(
        PipelineConfig(url=loopback.url, target="retrain", token_env=TOKEN_ENV, username=USER)
    )
    with pytest.raises(ProviderError, match="authentication failed") as caught:
        await _trigger(runner)
    assert not caught.value.retryable and "wrong" not in str(caught.value)


async def test_argo_submit_poll_and_outputs(loopback: Loopback) -> None:
    loopback.handler = argo = ArgoPipeline()
    workflows = argo.runs
    runner = ArgoRunner(
        PipelineConfig(url=loopback.url, target="retrain-tmpl", token_env=TOKEN_ENV, namespace="ml")
    )
    first = await _trigger(runner)
    assert first.state == "queued"
    assert loopback.requests[0].path == "/api/v1/workflows/ml/submit"
    assert workflows[first.run_id]["spec"]["arguments"]["parameters"] == [
        f"{k}={v}" for k, v in PARAMS.items()
    ]
    assert (await _trigger(runner)).run_id == first.run_id and len(workflows) == 1
    workflows[first.run_id]["status"] = {
        "phase": "Succeeded",
        "outputs": {"parameters": [{"name": "model_version", "value": "12"}]},
    }
    done = await runner.status(first.run_id)
    assert (done.state, done.model_version) == ("succeeded", "12")
    workflows[first.run_id]["status"] = {"phase": "Error", "message": "OOMKilled"}
    failed = await runner.status(first.run_id)
    assert (failed.state, failed.detail) == ("failed", "OOMKilled")


@pytest.mark.parametrize("run_details", [True, False])
async def test_github_dispatch_finds_its_run(loopback: Loopback, run_details: bool) -> None:
    loopback.handler = github = GitHubPipeline(run_details=run_details)
    runner = GitHubActionsRunner(
        PipelineConfig(url=loopback.url, target="acme/ml/retrain.yml", token_env=TOKEN_ENV)
    )
    first = await _trigger(runner)
    runs = list(github.runs.values())
    assert (first.run_id, first.state) == ("1000", "queued")
    assert runs[0]["ref"] == "main"
    assert {k: runs[0]["inputs"][k] for k in PARAMS} == PARAMS
    assert (await _trigger(runner)).run_id == "1000" and len(github.runs) == 1
    runs[0].update(status="in_progress")
    assert (await runner.status("1000")).state == "running"
    runs[0].update(status="completed", conclusion="failure")
    assert (await runner.status("1000")).state == "failed"
    runs[0].update(conclusion="success")
    assert (await runner.status("1000")).state == "succeeded"


async def test_webhook_runner_and_bad_replies(loopback: Loopback) -> None:
    loopback.handler = webhook = WebhookPipeline()
    runner = WebhookRunner(PipelineConfig(url=loopback.url + "/retrain", token_env=TOKEN_ENV))
    assert (await _trigger(runner)).run_id == "r-1"
    assert webhook.by_key == {"wf/retrain": "r-1"}
    assert loopback.requests[0].json() == {**PARAMS, "idempotency_key": "wf/retrain"}
    assert [r.path for r in loopback.requests] == ["/retrain"]
    webhook.runs["r-1"].update(state="running", model_version="5")
    assert (await runner.status("r-1")).state == "running"
    loopback.handler = lambda request: (502, {}, b"bad gateway")
    with pytest.raises(ProviderError, match="HTTP 502") as caught:
        await runner.status("r-1")
    assert caught.value.retryable
    loopback.handler = webhook
    webhook.runs["r-1"]["state"] = "exploded"
    with pytest.raises(ProviderError, match="unknown state") as caught:
        await runner.status("r-1")
    assert not caught.value.retryable
    webhook.runs["r-1"]["state"] = "SUCCEEDED"
    done = await runner.status("r-1")
    assert (done.state, done.model_version) == ("succeeded", "5")
