"""What every RetrainingRunner shares: the trigger's arguments taken as one `RunRequest`.

`RetrainingRunner.trigger` spells out what a run trains on as arguments; a runner built on
`RequestRunner` implements `start` and receives them as one value, whose `parameters()` are the
names every pipeline (and the local runner's run record) knows them by.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass

from activities.providers.protocols import RetrainingRun


@dataclass(frozen=True)
class RunRequest:
    model: str
    dataset: str
    dataset_version: str
    incident_id: str

    def parameters(self) -> dict[str, str]:
        """The run's parameters under the names a pipeline receives them by."""
        return dataclasses.asdict(self)


class RequestRunner(ABC):
    async def trigger(
        self,
        model: str,
        dataset: str,
        dataset_version: str,
        *,
        incident_id: str,
        idempotency_key: str,
    ) -> RetrainingRun:
        request = RunRequest(model, dataset, dataset_version, incident_id)
        return await self.start(request, idempotency_key)

    @abstractmethod
    async def start(self, request: RunRequest, idempotency_key: str) -> RetrainingRun:
        """`RetrainingRunner.trigger`, with its arguments as one request."""

    @abstractmethod
    async def status(self, run_id: str) -> RetrainingRun: ...
