"""Turning tracing on never breaks a running incident: every recorded history (recorded
without tracing) replays with Temporal's tracing interceptor and our activity interceptor in
the worker, and leaves no orphan span behind (a workflow task is traced when it first runs,
never on replay)."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import WorkflowHistory
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import Replayer

from orchestrator.security.keyring import KeyRing
from orchestrator.telemetry.activities import ActivityIds
from orchestrator.temporal.client import data_converter
from orchestrator.temporal.worker import WORKFLOWS
from tests.workflows.test_replay import HISTORIES, RECORDED


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
async def test_recorded_history_replays_with_tracing_on(path: Path) -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(KeyRing.load(HISTORIES / "keyring.json")),
        interceptors=[TracingInterceptor(provider.get_tracer("test")), ActivityIds()],
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
    assert exported.get_finished_spans() == ()
