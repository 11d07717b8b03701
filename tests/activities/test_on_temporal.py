"""Activities in a real worker on the Temporal dev server: payloads convert, failures keep
their type, and a retraining poll survives the loss of its worker."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from datetime import timedelta

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.factory import activities_for
from activities.providers.local.retraining import LocalRetrainingRunner
from activities.providers.protocols import RetrainingRun
from orchestrator.domain import ActionInput, ActionResult, Environment
from tests.activities.conftest import Lab
from tests.activities.retrain_workflow import RunOneAction


def client_of(env: WorkflowEnvironment) -> Client:
    return Client(**{**env.client.config(), "data_converter": pydantic_data_converter})


def action_input(action: str, params: dict[str, str]) -> ActionInput:
    return ActionInput(
        incident_id="incident-t",
        step_id="s1",
        action=action,
        params=params,
        idempotency_key=f"incident-t/{uuid.uuid4()}",
        environment=Environment.prod,
    )


class StallingRunner:
    """Runs the real job but reports it `running` until told otherwise: a long training run
    on the first worker."""

    def __init__(self, real: LocalRetrainingRunner) -> None:
        self.real = real
        self.polled = asyncio.Event()

    async def trigger(self, *args: str, **kwargs: str) -> RetrainingRun:
        return await self.real.trigger(*args, **kwargs)  # type: ignore[arg-type]

    async def status(self, run_id: str) -> RetrainingRun:
        self.polled.set()
        return RetrainingRun(run_id=run_id, state="running")


class PollOnlyRunner:
    """The second worker's runner: triggering again would be the bug under test."""

    def __init__(self, real: LocalRetrainingRunner) -> None:
        self.real = real

    async def trigger(self, *args: str, **kwargs: str) -> RetrainingRun:
        raise AssertionError("a resumed attempt must poll its run, not trigger another")

    async def status(self, run_id: str) -> RetrainingRun:
        return await self.real.status(run_id)


async def test_retraining_resumes_on_another_worker(
    lab: Lab, temporal_dev_env: WorkflowEnvironment
) -> None:
    client = client_of(temporal_dev_env)
    queue = f"activities-{uuid.uuid4()}"
    stalling = StallingRunner(lab.providers.retraining)  # type: ignore[arg-type]
    first = dataclasses.replace(lab.providers, retraining=stalling)
    inp = action_input("retraining.run", {"model": "fraud-detector", "dataset": "transactions"})

    async with Worker(
        client,
        task_queue=queue,
        workflows=[RunOneAction],
        activities=activities_for(first, lab.guard, poll_seconds=0.05),
        graceful_shutdown_timeout=timedelta(0),
    ):
        handle = await client.start_workflow(
            RunOneAction.run, inp, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        await asyncio.wait_for(stalling.polled.wait(), 30)
        await asyncio.sleep(0.3)

    second = dataclasses.replace(lab.providers, retraining=PollOnlyRunner(stalling.real))
    async with Worker(
        client,
        task_queue=queue,
        workflows=[RunOneAction],
        activities=activities_for(second, lab.guard, poll_seconds=0.05),
    ):
        result = await asyncio.wait_for(handle.result(), 60)

    assert isinstance(result, ActionResult)
    runs = json.loads((lab.paths.retraining / "runs.json").read_text())["runs"]
    assert list(runs) == [result.outputs["run_id"]], "the second attempt must not trigger again"
    assert result.outputs["model_version"] == "4"


async def test_non_retryable_failures_reach_the_workflow_typed(
    lab: Lab, temporal_dev_env: WorkflowEnvironment
) -> None:
    client = client_of(temporal_dev_env)
    queue = f"activities-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[RunOneAction],
        activities=activities_for(lab.providers, lab.guard),
    ):
        ok = await client.execute_workflow(
            RunOneAction.run,
            action_input("keys.revoke", {"key_id": "key-ingest-pipeline"}),
            id=f"wf-{uuid.uuid4()}",
            task_queue=queue,
        )
        assert ok.changed and ok.inverse_params == {"key_id": "key-ingest-pipeline"}
        with pytest.raises(WorkflowFailureError) as caught:
            await client.execute_workflow(
                RunOneAction.run,
                action_input("models.validate", {"model": "fraud-detector"}),
                id=f"wf-{uuid.uuid4()}",
                task_queue=queue,
            )
    activity_error = caught.value.cause
    assert isinstance(activity_error, ActivityError)
    app = activity_error.cause
    assert isinstance(app, ApplicationError)
    assert app.type == "ValidationFailed" and app.non_retryable
    assert activity_error.retry_state is not None
    assert activity_error.retry_state.name == "NON_RETRYABLE_FAILURE"
