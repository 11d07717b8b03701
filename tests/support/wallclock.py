"""A workflow that reads the wall clock, which the sandbox must refuse (its own module: the
sandbox re-imports the module that defines a workflow)."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow


@workflow.defn(name="ReadsTheWallClock")
class ReadsTheWallClock:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()
