"""Admission under overload: follow-up alerts of a busy incident wait for their sender's retry.

Every admitted alert costs a record, a signal and a workflow task, so a flood of duplicates can
hold the CPU that a new incident's containment needs. The sign that the API is behind is age:
when the oldest alert still in flight in this process was admitted more than `max_delay`
seconds ago, the queue is growing faster than it drains. An alert whose incident is already
being handed alerts then adds nothing that changes the response (its playbook is running), so
it is refused with 429 and `Retry-After` and its sender delivers it again shortly; nothing was
recorded, so the retry is a first delivery. An alert of any other correlation key may open an
incident, and is always admitted: overload delays duplicates, never containment. Measuring age
rather than counting requests sheds nothing while alerts flow on time, whatever the rate.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from orchestrator.errors import RateLimited

RETRY_AFTER_SECONDS = 1


class Busy(RateLimited):
    title = "Busy"


class Admission:
    """This process's in-flight alerts: when each was admitted, and how many per incident
    (workflow id). Used from the event loop only, so it needs no lock."""

    def __init__(self, max_delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_delay = max_delay
        self._clock = clock
        self._per_incident: Counter[str] = Counter()
        self._admitted_at: dict[int, float] = {}  # insertion order: the oldest comes first
        self._tickets = itertools.count()

    def behind(self) -> float:
        """Seconds the oldest in-flight alert has waited (0 when none is in flight)."""
        oldest = next(iter(self._admitted_at.values()), None)
        return 0.0 if oldest is None else self._clock() - oldest

    @contextmanager
    def admit(self, workflow_ids: list[str]) -> Iterator[None]:
        """Hold the delivery's alerts as in flight; refuse it (Busy) only when the API is
        behind and every one of its alerts follows alerts of the same incident in flight."""
        if workflow_ids and all(self._per_incident[w] for w in workflow_ids):
            waited = self.behind()
            if waited > self.max_delay:
                raise Busy(
                    f"alerts admitted {waited:.1f}s ago are still being handed to their"
                    " incidents, earlier alerts of this one among them; deliver again after"
                    " Retry-After",
                    retry_after=RETRY_AFTER_SECONDS,
                )
        ticket = next(self._tickets)
        self._admitted_at[ticket] = self._clock()
        self._per_incident.update(workflow_ids)
        try:
            yield
        finally:
            del self._admitted_at[ticket]
            self._per_incident.subtract(workflow_ids)
            for w in set(workflow_ids):
                if self._per_incident[w] <= 0:
                    del self._per_incident[w]
