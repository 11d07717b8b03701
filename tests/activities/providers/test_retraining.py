"""Retraining runners against loopback servers speaking Airflow, Argo, GitHub and webhook APIs."""

from __future__ import annotations

import base64
from collections.abc import Callable
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
from tests.support.providers import Loopback, Recorded, Reply

PARAMS = {"model": "fraud", "dataset": "tx", "dataset_version": "v7", "incident_id": "inc-3"}


@pytest.fixture(autouse=True)
def pipeline_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_SECRET", "s3cr3t-pipeline")


async def _trigger(runner: Any, key: str = "wf/retrain") -> Any:
    return await runner.trigger("fraud", "tx", "v7", incident_id="inc-3", idempotency_key=key)


def airflow_api(runs: dict[str, dict[str, Any]]) -> Callable[[Recorded], Reply]:
    """Airflow REST v1 dagRuns with basic auth; a duplicate dag_run_id answers 409."""
    expected = "Basic " + base64.b64encode(b"firebreak:s3cr3t-pipeline").decode()

    def handle(request: Recorded) -> Reply:
        if request.headers.get("authorization") != expected:
            return 401, {}, {"title": "Unauthorized", "status": 401}
        parts = request.path.split("/")
        if parts[4] != "retrain":
            return 404, {}, {"title": "DAG not found", "status": 404}
        if request.method == "POST":
            body = request.json()
            if body["dag_run_id"] in runs:
                return 409, {}, {"title": "Conflict", "status": 409}
            runs[body["dag_run_id"]] = {**body, "state": "queued"}
            return 200, {}, runs[body["dag_run_id"]]
        return 200, {}, runs[parts[6]]

    return handle


async def test_airflow_trigger_is_idempotent_and_states_map(loopback: Loopback) -> None:
    runs: dict[str, dict[str, Any]] = {}
    loopback.handler = airflow_api(runs)
    config = PipelineConfig(
        url=loopback.url, target="retrain", token_env="PIPELINE_SECRET", username="firebreak"
    )
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
    loopback.handler = airflow_api({})
    monkeypatch.setenv("PIPELINE_SECRET", "wrong")
    runner = AirflowRunner(
        PipelineConfig(
            url=loopback.url, target="retrain", token_env="PIPELINE_SECRET", username="firebreak"
        )
    )
    with pytest.raises(ProviderError, match="authentication failed") as caught:
        await _trigger(runner)
    assert not caught.value.retryable and "wrong" not in str(caught.value)


def argo_api(workflows: dict[str, dict[str, Any]]) -> Callable[[Recorded], Reply]:
    """Argo server: submit from a WorkflowTemplate (409 AlreadyExists on a repeated name)."""

    def handle(request: Recorded) -> Reply:
        if request.headers.get("authorization") != "Bearer s3cr3t-pipeline":
            return 401, {}, {"code": 16, "message": "token not valid"}
        if request.method == "POST":
            body = request.json()
            options = body["submitOptions"]
            if options["name"] in workflows:
                return 409, {}, {"code": 6, "message": "already exists"}
            workflows[options["name"]] = {
                "metadata": {"name": options["name"], "namespace": "ml"},
                "spec": {"arguments": {"parameters": options["parameters"]}},
                "status": {},
            }
            return 200, {}, workflows[options["name"]]
        return 200, {}, workflows[request.path.rsplit("/", 1)[-1]]

    return handle


async def test_argo_submit_poll_and_outputs(loopback: Loopback) -> None:
    workflows: dict[str, dict[str, Any]] = {}
    loopback.handler = argo_api(workflows)
    runner = ArgoRunner(
        PipelineConfig(
            url=loopback.url, target="retrain-tmpl", token_env="PIPELINE_SECRET", namespace="ml"
        )
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


def github_api(runs: list[dict[str, Any]], *, run_details: bool) -> Callable[[Recorded], Reply]:
    """GitHub REST: workflow_dispatch (200 with run details, or the classic 204), run list, run."""

    def handle(request: Recorded) -> Reply:
        if request.headers.get("authorization") != "Bearer s3cr3t-pipeline":
            return 401, {}, {"message": "Bad credentials"}
        if request.path.endswith("/dispatches"):
            body = request.json()
            run = {
                "id": 1000 + len(runs),
                "status": "queued",
                "conclusion": None,
                "display_title": f"retrain {body['inputs']['firebreak_run']}",
                "inputs": body["inputs"],
                "ref": body["ref"],
            }
            runs.append(run)
            if run_details:
                return 200, {}, {"workflow_run_id": run["id"], "run_url": "u", "html_url": "h"}
            return 204, {}, b""
        if request.path.endswith("/runs"):
            return 200, {}, {"total_count": len(runs), "workflow_runs": runs}
        run_id = int(request.path.rsplit("/", 1)[-1])
        return 200, {}, next(r for r in runs if r["id"] == run_id)

    return handle


@pytest.mark.parametrize("run_details", [True, False])
async def test_github_dispatch_finds_its_run(loopback: Loopback, run_details: bool) -> None:
    runs: list[dict[str, Any]] = []
    loopback.handler = github_api(runs, run_details=run_details)
    runner = GitHubActionsRunner(
        PipelineConfig(url=loopback.url, target="acme/ml/retrain.yml", token_env="PIPELINE_SECRET")
    )
    first = await _trigger(runner)
    assert (first.run_id, first.state) == ("1000", "queued")
    assert runs[0]["ref"] == "main"
    assert {k: runs[0]["inputs"][k] for k in PARAMS} == PARAMS
    assert (await _trigger(runner)).run_id == "1000" and len(runs) == 1
    runs[0].update(status="in_progress")
    assert (await runner.status("1000")).state == "running"
    runs[0].update(status="completed", conclusion="failure")
    assert (await runner.status("1000")).state == "failed"
    runs[0].update(conclusion="success")
    assert (await runner.status("1000")).state == "succeeded"


async def test_webhook_runner_and_bad_replies(loopback: Loopback) -> None:
    state = {"value": "running"}

    def handle(request: Recorded) -> Reply:
        if request.method == "POST":
            assert request.headers["idempotency-key"] == "wf/retrain"
            return 202, {}, {"run_id": "r-1", "state": "queued", **request.json()}
        if state["value"] == "crash":
            return 502, {}, b"bad gateway"
        return 200, {}, {"state": state["value"], "model_version": "5"}

    loopback.handler = handle
    runner = WebhookRunner(PipelineConfig(url=loopback.url + "/retrain"))
    assert (await _trigger(runner)).run_id == "r-1"
    assert loopback.requests[0].json() == {**PARAMS, "idempotency_key": "wf/retrain"}
    assert [r.path for r in loopback.requests] == ["/retrain"]
    assert (await runner.status("r-1")).state == "running"
    state["value"] = "crash"
    with pytest.raises(ProviderError, match="HTTP 502") as caught:
        await runner.status("r-1")
    assert caught.value.retryable
    state["value"] = "exploded"
    with pytest.raises(ProviderError, match="unknown state") as caught:
        await runner.status("r-1")
    assert not caught.value.retryable
    state["value"] = "SUCCEEDED"
    done = await runner.status("r-1")
    assert (done.state, done.model_version) == ("succeeded", "5")
