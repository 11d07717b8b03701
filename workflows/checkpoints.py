"""The scheduled ledger checkpoint: one activity that signs the head and publishes the note.

A Temporal Schedule (orchestrator/temporal/schedules.py) starts this workflow every
`checkpoint_interval_seconds`, so the engine that runs incidents also runs the checkpoints,
on whichever worker is free. The activity is idempotent (an unmoved head is not checkpointed
again, a witness write is a replace), so its retries re-publish to witnesses that failed.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.contracts import CHECKPOINT_LEDGER, CheckpointOutcome

CHECKPOINT_WORKFLOW = "firebreak.ledger-checkpoint"
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)


@workflow.defn(name=CHECKPOINT_WORKFLOW)
class LedgerCheckpointWorkflow:
    @workflow.run
    async def run(self) -> CheckpointOutcome:
        outcome: CheckpointOutcome = await workflow.execute_activity(
            CHECKPOINT_LEDGER,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RETRY,
            result_type=CheckpointOutcome,
        )
        return outcome
