"""The RetrainingRunner contract: one run per idempotency key, started with the step's
parameters, and `status` reporting how the system says the run ended.

A concrete class builds the runner in an autouse fixture (`self.provider`) and says which
model and dataset version a run can train on (one that will succeed, or one that will fail),
how the system ends a run, and which runs the system holds with the parameters it was given.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import pytest

from activities.errors import ResourceNotFound
from activities.providers.protocols import RetrainingRun, RetrainingRunner

INCIDENT = "inc-3"
Outcome = Literal["succeeded", "failed"]


class RetrainingRunnerContract(ABC):
    provider: RetrainingRunner

    @abstractmethod
    async def target(self, outcome: Outcome) -> tuple[str, str, str]:
        """(model, dataset, dataset version) for a run that is to end in `outcome`."""

    @abstractmethod
    async def finish(self, run_id: str, outcome: Outcome) -> None:
        """Let the system end the run in `outcome` (or wait until it has)."""

    @abstractmethod
    async def runs(self) -> dict[str, dict[str, str]]:
        """Every run the system holds: run id -> model, dataset, dataset_version, incident_id."""

    async def trigger(
        self, key: str = "wf/retrain", outcome: Outcome = "succeeded"
    ) -> RetrainingRun:
        model, dataset, version = await self.target(outcome)
        return await self.provider.trigger(
            model, dataset, version, incident_id=INCIDENT, idempotency_key=key
        )

    async def test_trigger_starts_one_run_with_the_steps_parameters(self) -> None:
        run = await self.trigger()
        model, dataset, version = await self.target("succeeded")
        assert await self.runs() == {
            run.run_id: {
                "model": model,
                "dataset": dataset,
                "dataset_version": version,
                "incident_id": INCIDENT,
            }
        }
        assert run.state != "failed"
        assert (await self.provider.status(run.run_id)).run_id == run.run_id

    async def test_a_repeated_trigger_finds_the_first_run(self) -> None:
        first = await self.trigger()
        again = await self.trigger()
        assert again.run_id == first.run_id
        assert list(await self.runs()) == [first.run_id]

    async def test_a_trigger_under_another_key_starts_another_run(self) -> None:
        first, second = await self.trigger("wf/a"), await self.trigger("wf/b")
        assert first.run_id != second.run_id
        assert sorted(await self.runs()) == sorted([first.run_id, second.run_id])

    @pytest.mark.parametrize("outcome", ["succeeded", "failed"])
    async def test_status_reports_how_the_run_ended(self, outcome: Outcome) -> None:
        run = await self.trigger(outcome=outcome)
        await self.finish(run.run_id, outcome)
        ended = await self.provider.status(run.run_id)
        assert (ended.run_id, ended.state) == (run.run_id, outcome)

    async def test_status_of_an_unknown_run_is_not_found(self) -> None:
        await self.trigger()
        with pytest.raises(ResourceNotFound):
            await self.provider.status("run-that-never-started")
