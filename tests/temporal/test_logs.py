"""An expected activity failure is one log line; a bug keeps its traceback: a real worker on
the Temporal dev server running activities that fail both ways, and the real gateway provider
meeting a 404 from a loopback server."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.errors import ProviderError, ResourceNotFound, as_application_error
from activities.providers.http_keys import HttpKeyProvider, litellm
from orchestrator.temporal.logs import SDK_LOGGER, quiet_expected_failures
from tests.activities.providers.test_on_temporal import worker_with
from tests.support.providers import Loopback


@activity.defn(name="test.missing_key")
async def missing_key() -> None:
    raise as_application_error(ResourceNotFound("no API key 'k-404' at the gateway (HTTP 404)"))


@activity.defn(name="test.flaky_gateway")
async def flaky_gateway() -> None:
    raise as_application_error(ProviderError("gateway answered 503"))


@activity.defn(name="test.bug")
async def bug() -> None:
    raise KeyError("a bug, with its traceback")


@workflow.defn(name="FailingActivities")
class FailingActivities:
    @workflow.run
    async def run(self, name: str) -> None:
        await workflow.execute_activity(
            name,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def run_activity(env: WorkflowEnvironment, queue: str, name: str) -> None:
    with pytest.raises(WorkflowFailureError):
        await env.client.execute_workflow(
            FailingActivities.run, name, id=f"logs-{uuid.uuid4().hex[:8]}", task_queue=queue
        )


async def test_expected_failures_log_one_line_and_bugs_their_traceback(
    temporal_dev_env: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    quiet_expected_failures()
    queue = f"logs-{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.WARNING, logger=SDK_LOGGER)
    async with Worker(
        temporal_dev_env.client,
        task_queue=queue,
        workflows=[FailingActivities],
        activities=[missing_key, flaky_gateway, bug],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        for name in ("test.missing_key", "test.flaky_gateway", "test.bug"):
            await run_activity(temporal_dev_env, queue, name)
    failed = [r for r in caplog.records if r.name == SDK_LOGGER]
    assert len(failed) == 3, [r.getMessage() for r in failed]
    missing, flaky, broken = failed
    assert missing.exc_info is None and "\n" not in missing.getMessage()
    assert missing.getMessage().startswith(
        "activity failed: ResourceNotFound: no API key 'k-404' at the gateway (HTTP 404) "
        "(activity_type=test.missing_key attempt=1 workflow_id=logs-"
    )
    assert flaky.exc_info is None
    assert flaky.getMessage().startswith("activity failed, will retry: ProviderError: gateway")
    assert broken.exc_info is not None and isinstance(broken.exc_info[1], KeyError)
    assert "Traceback" in caplog.text and "a bug, with its traceback" in caplog.text


async def test_a_gateway_404_is_one_line(
    loopback: Loopback,
    temporal_dev_env: WorkflowEnvironment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_expected_failures()
    loopback.handler = lambda request: (404, {}, {"error": {"message": "key not found"}})
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-test")
    keys = HttpKeyProvider(litellm(loopback.url, "LITELLM_MASTER_KEY"))
    caplog.set_level(logging.WARNING, logger=SDK_LOGGER)
    async with worker_with(temporal_dev_env, tmp_path, keys=keys) as start:
        handle = await start("keys.revoke", {"key_id": "no-such-key"})
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    await keys.aclose()
    [failed] = [r for r in caplog.records if r.name == SDK_LOGGER]
    assert failed.exc_info is None and "\n" not in failed.getMessage()
    assert failed.getMessage().startswith("activity failed: ResourceNotFound: ")
    message = failed.getMessage()
    assert "(HTTP 404)" in message and "activity_type=keys.revoke" in message
    assert "Traceback" not in caplog.text
