"""Alert intake: every signalled alert attached once, and the incident's audit events appended.

Alerts arrive by signal at any moment; the workflow buffers them and attaches them (an
`AlertAttached` or `AlertResolved` event, counted in the incident's state) whenever it runs.
Every wait of the workflow goes through `AlertIntake.wait`, so alerts keep being attached and
events keep reaching the ledger while a step waits for people or for its action.

While the workflow waits, alert events alone are appended in batches: they wait up to
`ATTACH_DELAY` or until `ATTACH_BATCH` of them are pending. Under a stream of duplicates that is
one audit append per incident per second instead of one per signal, each of which cost a local
activity and a second workflow task. Nothing is at risk meanwhile: every alert is already in the
ledger (`AlertReceived`, written by the API) and in this workflow's history, so a crash replays
the same events. Any other event is appended at once, with the alert events pending before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from orchestrator.domain import Alert, AlertStatus, CorrelatedAlert, EventType, IncidentState
from workflows.contracts import AUDIT_APPEND, AppendInput
from workflows.outbox import Outbox
from workflows.patches import BATCHED_ATTACH

ATTACH_DELAY = timedelta(seconds=1)
"""How long attached alerts may wait for their audit append while the workflow waits."""
ATTACH_BATCH = 200
"""Alert events that are appended at once, without waiting for `ATTACH_DELAY`."""
ALERT_EVENTS = frozenset({EventType.alert_attached.value, EventType.alert_resolved.value})
CORRELATED_KEPT = 200
"""Correlated alerts the incident's state lists (every one has its `AlertAttached` event)."""
SEEN_ALERTS_KEPT = 5000
"""Alert ids remembered for de-duplication across continue-as-new."""
AUDIT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)


class ContinueAsNew(Exception):
    """Raised out of a wait when history is long; the workflow continues as new from its place."""


def seen_key(alert: Alert) -> str:
    """An alert's firing and its resolution are each attached once."""
    return f"{alert.id}:resolved" if alert.status is AlertStatus.resolved else alert.id


def correlated(state: IncidentState, alert: Alert) -> dict[str, str]:
    """Record why an alert of another key joined (its entity and rule), on the incident's
    state (the latest `CORRELATED_KEPT`) and as the `correlated` field of its event."""
    joined = alert.joined
    assert joined is not None
    state.correlated_alerts.append(
        CorrelatedAlert(
            alert_id=alert.id,
            type=alert.type,
            fingerprint=alert.fingerprint,
            kind=joined.kind,
            value=joined.value,
            rule=joined.rule,
            attached_at=workflow.now(),
        )
    )
    del state.correlated_alerts[:-CORRELATED_KEPT]
    return {
        "kind": joined.kind,
        "value": joined.value,
        "rule": joined.rule,
        "type": alert.type,
        "fingerprint": alert.fingerprint,
    }


def seconds_until(moment: datetime) -> float:
    return (moment - workflow.now()).total_seconds()


class AlertIntake:
    """The buffer of signalled alerts, the ids already attached, and the audit outbox's flush."""

    def __init__(
        self,
        state: IncidentState,
        outbox: Outbox,
        history_limit: int,
        *,
        seen: Iterable[str] = (),
        pending: Iterable[Alert] = (),
        last_alert_at: datetime | None = None,
    ) -> None:
        self._state = state
        self._outbox = outbox
        self.history_limit = history_limit
        self._buffer: list[Alert] = list(pending)
        self._seen: dict[str, None] = dict.fromkeys(seen)
        self._attach_due: datetime | None = None
        self.last_alert_at = last_alert_at
        """When the last new alert was attached: the quiet period counts from it."""
        self.stop_with: Exception | None = None
        """Raised out of the next wait that may be left (the incident was merged away)."""

    def add(self, alerts: Iterable[Alert]) -> None:
        """Buffer signalled alerts; they are attached when the workflow next runs."""
        self._buffer.extend(alerts)

    def attach(self) -> None:
        """Attach every buffered alert not seen before, emitting its event."""
        alerts, self._buffer = self._buffer, []
        for alert in alerts:
            key = seen_key(alert)
            if key in self._seen:
                continue
            self._seen[key] = None
            self.last_alert_at = workflow.now()
            s = self._state
            if alert.status is AlertStatus.resolved:
                s.resolved_alert_count += 1
                self._outbox.emit(
                    EventType.alert_resolved,
                    {"alert_id": alert.id, "resolved_alert_count": s.resolved_alert_count},
                )
                continue
            s.alert_count += 1
            payload: dict[str, object] = {
                "alert_id": alert.id,
                "source": alert.source,
                "status": alert.status.value,
                "severity": alert.severity.value,
                "alert_count": s.alert_count,
            }
            if alert.joined is not None:  # sent here by an entity or a merge: say which
                payload["correlated"] = correlated(s, alert)
            self._outbox.emit(EventType.alert_attached, payload)

    async def flush(self, *, batch_alerts: bool = False) -> None:
        """Attach buffered alerts, then append every pending audit event in one batch.

        With `batch_alerts` (a waiting workflow), alert events alone may wait for their batch
        (see the module docstring).
        """
        self.attach()
        if batch_alerts and self._outbox and self._outbox.only(ALERT_EVENTS):
            room = len(self._outbox) < ATTACH_BATCH
            if self._attach_due is None and room and workflow.patched(BATCHED_ATTACH):
                self._attach_due = workflow.now() + ATTACH_DELAY
            if self._attach_due is not None and room and workflow.now() < self._attach_due:
                return
        self._attach_due = None
        while self._outbox:
            await workflow.execute_local_activity(
                AUDIT_APPEND,
                AppendInput(stream_id=self._state.incident_id, events=self._outbox.take()),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=AUDIT_RETRY,
            )
            self.attach()

    async def wait(
        self, done: Callable[[], bool], seconds: float | None, *, may_continue: bool = True
    ) -> bool:
        """Wait for `done` up to `seconds`, attaching alerts and flushing audit events as they
        come. True if `done` holds; with `may_continue`, may leave by raising `ContinueAsNew`."""
        deadline = None if seconds is None else workflow.now() + timedelta(seconds=seconds)
        while True:
            await self.flush(batch_alerts=True)
            if done():
                return True
            if may_continue and self.stop_with is not None:
                raise self.stop_with
            if may_continue and self.history_is_long():
                raise ContinueAsNew
            remaining = None
            if deadline is not None:
                remaining = seconds_until(deadline)
                if remaining <= 0:
                    return False
            timeout = remaining
            if self._attach_due is not None:
                attach_in = seconds_until(self._attach_due)
                timeout = attach_in if timeout is None else min(timeout, attach_in)
            try:
                await workflow.wait_condition(
                    lambda: (
                        done()
                        or self._has_work()
                        or (may_continue and (self._long_batch() or self.stop_with is not None))
                    ),
                    timeout=timeout,
                )
            except TimeoutError:
                if deadline is not None and seconds_until(deadline) <= 0:
                    await self.flush()
                    return done()

    def history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self.history_limit
        )

    def _has_work(self) -> bool:
        """Whether a waiting workflow should wake: audit events to append, or alerts to attach,
        except alerts while a batch of them is collecting (its timer or its size wakes it)."""
        if self._attach_due is None:
            return bool(self._buffer) or bool(self._outbox)
        pending = len(self._buffer) + len(self._outbox)
        return not self._outbox.only(ALERT_EVENTS) or pending >= ATTACH_BATCH

    def _long_batch(self) -> bool:
        """A batch that collects while the history outgrows its limit: continue as new now,
        as a workflow woken by each signal would."""
        return self._attach_due is not None and self.history_is_long()

    def counts(self) -> tuple[int, int]:
        """Alert and resolved-alert counts, with alerts signalled but not yet attached (a batch
        collecting) counted at once, so the `state` query never lags the signals."""
        unseen = {seen_key(a): a.status for a in self._buffer if seen_key(a) not in self._seen}
        resolved = sum(1 for status in unseen.values() if status is AlertStatus.resolved)
        s = self._state
        return s.alert_count + len(unseen) - resolved, s.resolved_alert_count + resolved

    def firing_alert_ids(self) -> list[str]:
        """The ids of the firing alerts attached (as far as remembered), oldest first."""
        return [key for key in self._seen if not key.endswith(":resolved")]

    def mark_seen(self, alert_ids: Iterable[str]) -> None:
        """Alerts attached elsewhere (a merged incident's) that must not count again here."""
        for alert_id in alert_ids:
            self._seen[alert_id] = None

    def seen_for_carry(self) -> list[str]:
        return list(self._seen)[-SEEN_ALERTS_KEPT:]

    def pending_for_carry(self) -> list[Alert]:
        return self._buffer
