"""A one-step workflow for the real-server activity tests (kept apart: the sandbox
re-imports the module that defines a workflow)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from orchestrator.actions import ACTIONS
    from orchestrator.domain import ActionInput, ActionResult


@workflow.defn
class RunOneAction:
    """Runs one action with the catalogue's retry data, a short heartbeat timeout and fast
    retries, so a lost worker is noticed within seconds."""

    @workflow.run
    async def run(self, input: ActionInput) -> ActionResult:
        spec = ACTIONS[input.action]
        result: ActionResult = await workflow.execute_activity(
            input.action,
            input,
            result_type=ActionResult,
            start_to_close_timeout=timedelta(seconds=spec.start_to_close_seconds),
            heartbeat_timeout=timedelta(seconds=2),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100),
                maximum_attempts=spec.max_attempts,
                non_retryable_error_types=list(spec.non_retryable),
            ),
        )
        return result
