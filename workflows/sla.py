"""The SLA clock: a durable timer per leg (acknowledge, contain, resolve) of an incident.

Each leg runs from the incident's opening to the first time it is met (`IncidentAcknowledged`,
`IncidentContained`, `IncidentResolved`); reopening does not restart a leg. A leg not met by its
target is breached once: `SlaBreached` (the leg, its target and the time elapsed) and a
notification to the SLA's escalation target. The targets are the configuration the incident
opened with (`ResolvedPlaybook.sla`, recorded in history), so a change of configuration never
changes a running incident, and the timers are Temporal timers: a worker restart, a replay or a
continue-as-new (the clock is rebuilt from the carried state) keeps them where they were.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from temporalio import workflow

from orchestrator.domain import EventType, IncidentState, SlaLeg
from workflows.intake import seconds_until
from workflows.outbox import Outbox

Breached = Callable[[SlaLeg], Awaitable[None]]


def breach(incident: IncidentState, leg: SlaLeg, outbox: Outbox) -> None:
    """Record that `leg` missed its target."""
    target = incident.sla.target(leg) if incident.sla else None
    incident.sla_breached.append(leg)
    outbox.emit(
        EventType.sla_breached,
        {
            "leg": leg.value,
            "target_seconds": target,
            "elapsed_seconds": (outbox.now() - incident.opened_at).total_seconds(),
            "severity": incident.severity.value,
        },
    )


class SlaClock:
    """Runs beside the incident workflow's main coroutine until every leg is met or breached,
    or the incident closes (`stop`)."""

    def __init__(self, incident: IncidentState, outbox: Outbox, on_breach: Breached) -> None:
        self._incident = incident
        self._outbox = outbox
        self._on_breach = on_breach
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._incident.sla is not None and self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Let the clock end (a notification it is sending finishes first)."""
        self._stopped = True
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        s = self._incident
        while not self._stopped and s.closed_at is None:
            due = s.sla_next_due()
            if due is None:
                return
            at, leg = due

            def settled(leg: SlaLeg = leg) -> bool:
                return self._stopped or s.closed_at is not None or s.sla_met()[leg] is not None

            remaining = seconds_until(at)
            if remaining > 0:
                try:
                    await workflow.wait_condition(settled, timeout=remaining)
                    continue
                except TimeoutError:
                    pass
            if settled():
                continue
            breach(s, leg, self._outbox)
            await self._on_breach(leg)
