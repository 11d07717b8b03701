"""Admission under overload: follow-up alerts of a busy incident wait for their sender's retry.

Every admitted alert costs a record, a signal and a workflow task, so a flood of duplicates can
hold the CPU that a new incident's containment needs. When more than `limit` alerts are in
flight in this process, the API is behind. An alert whose incident is already being handed
alerts adds nothing that changes the response (its playbook is running), so it is refused with
429 and `Retry-After` and its sender delivers it again shortly; nothing was recorded, so the
retry is a first delivery. An alert of any other correlation key may open an incident, and is
always admitted: overload delays duplicates, never containment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from orchestrator.errors import RateLimited

RETRY_AFTER_SECONDS = 1


class Busy(RateLimited):
    title = "Busy"


class Admission:
    """Counts this process's in-flight alerts, in total and by incident (workflow id). Used
    from the event loop only, so it needs no lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight: Counter[str] = Counter()
        self._total = 0

    @contextmanager
    def admit(self, workflow_ids: list[str]) -> Iterator[None]:
        """Hold the delivery's alerts as in flight; refuse it (Busy) only when over the limit
        and every one of its alerts follows alerts of the same incident still in flight."""
        if (
            workflow_ids
            and self._total >= self.limit
            and all(self._in_flight[w] for w in workflow_ids)
        ):
            raise Busy(
                f"{self._total} alerts are being handed to their incidents, including earlier"
                " alerts of this one; deliver again after Retry-After",
                retry_after=RETRY_AFTER_SECONDS,
            )
        self._in_flight.update(workflow_ids)
        self._total += len(workflow_ids)
        try:
            yield
        finally:
            self._in_flight.subtract(workflow_ids)
            self._total -= len(workflow_ids)
            for w in set(workflow_ids):
                if self._in_flight[w] <= 0:
                    del self._in_flight[w]
