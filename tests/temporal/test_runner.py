"""The worker's workflow runner: workflow code still runs in the sandbox, and the sandbox is
spared its serialization-context questions only when the data converter ignores context."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from orchestrator.settings import Settings
from orchestrator.temporal.runner import ContextFreeRunner, ignores_context
from orchestrator.temporal.worker import build_worker
from tests.support.incidents import eventually
from tests.support.wallclock import ReadsTheWallClock


class ContextCodec(PayloadCodec, WithSerializationContext):
    """A codec that would key its encryption by workflow, say: it takes the context."""

    def __init__(self, context: SerializationContext | None = None) -> None:
        self.context = context

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    def with_context(self, context: SerializationContext) -> ContextCodec:
        return ContextCodec(context)


async def test_workflow_code_still_runs_in_the_sandbox(dev_client: Client) -> None:
    queue = f"runner-{uuid.uuid4().hex[:8]}"
    runner = ContextFreeRunner()
    async with Worker(
        dev_client, task_queue=queue, workflows=[ReadsTheWallClock], workflow_runner=runner
    ):
        handle = await dev_client.start_workflow(ReadsTheWallClock.run, id=queue, task_queue=queue)

        async def task_failure() -> str | None:
            async for event in handle.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                    return event.workflow_task_failed_event_attributes.failure.message
            return None

        message = await eventually(task_failure)
        await handle.terminate()
    assert "datetime.datetime.now" in message


async def test_the_worker_skips_context_questions_only_for_a_context_free_converter(
    dev_client: Client, fb_settings: Settings
) -> None:
    assert ignores_context(dev_client.data_converter)
    runner = build_worker(dev_client, fb_settings).config()["workflow_runner"]
    assert isinstance(runner, ContextFreeRunner)

    converter = dataclasses.replace(dev_client.data_converter, payload_codec=ContextCodec())
    assert not ignores_context(converter)
    keyed = Client(**{**dev_client.config(), "data_converter": converter})
    other_queue = fb_settings.model_copy(update={"task_queue": f"{fb_settings.task_queue}-keyed"})
    runner = build_worker(keyed, other_queue).config()["workflow_runner"]
    assert type(runner) is SandboxedWorkflowRunner
