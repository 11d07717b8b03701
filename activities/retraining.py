"""Retraining: trigger a run, then poll it with heartbeats until it ends.

The heartbeat details carry the run id. When Temporal retries the activity (worker crash,
heartbeat timeout) the new attempt reads the id from `activity.info().heartbeat_details` and
resumes polling that run instead of triggering another one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from temporalio import activity

from activities.base import action, dry_run, guarded, optional
from activities.errors import RetrainingFailed
from activities.guard import ResourceGuard
from activities.providers.protocols import DatasetStore, RetrainingRunner
from orchestrator.domain import ActionInput, ActionResult

DEFAULT_POLL_SECONDS = 2.0


@dataclass
class RetrainingActivities:
    runner: RetrainingRunner
    datasets: DatasetStore
    guard: ResourceGuard
    poll_seconds: float = DEFAULT_POLL_SECONDS

    @action("retraining.run")
    async def run(self, input: ActionInput) -> ActionResult:
        """Without `version`, trains on the dataset's latest clean version."""
        model, dataset = input.params["model"], input.params["dataset"]

        async def effect() -> ActionResult:
            details = activity.info().heartbeat_details
            if details:
                run_id = str(details[0])
            else:
                version = optional(input, "version") or await self.datasets.latest_clean(dataset)
                if input.dry_run:
                    return dry_run(
                        input, f"retrain {model} on {dataset}@{version}", dataset_version=version
                    )
                started = await self.runner.trigger(
                    model,
                    dataset,
                    version,
                    incident_id=input.incident_id,
                    idempotency_key=input.idempotency_key,
                )
                run_id = started.run_id
            while True:
                run = await self.runner.status(run_id)
                activity.heartbeat(run_id)
                if run.state == "failed":
                    raise RetrainingFailed(f"retraining run {run_id} failed: {run.detail}")
                if run.state == "succeeded":
                    break
                await asyncio.sleep(self.poll_seconds)
            return ActionResult(
                action=input.action,
                changed=True,
                summary=f"retrained {model} as version {run.model_version} (run {run_id})",
                outputs={
                    "run_id": run_id,
                    "model_version": run.model_version or "",
                    "detail": run.detail,
                },
            )

        return await guarded(self.guard, f"model:{model}", input, effect)
