"""The incident workflow: a deterministic interpreter of one playbook for one incident.

It attaches every alert with the incident's correlation key (signal `alert`), runs the phases
in order, gates steps behind approvals (update `decide`, validated by `workflows.approvals`),
escalates and applies timeout rules, asks people what to do about failed steps, compensates on
abort, and appends every transition to the audit stream. Its state is the `state` query.

Everything here is replay-safe: time is `workflow.now()`, event ids derive from the incident
and the event's subject (`workflows.outbox`), and every effect is an activity. The step
methods resume from the step's recorded status, which is what lets a long wait (a storm during
an approval) continue as new without losing its place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout
from temporalio.workflow import ActivityHandle

with workflow.unsafe.imports_passed_through():
    from activities.providers.protocols import Notification
    from orchestrator.actions import ACTIONS
    from orchestrator.domain import (
        ActionInput,
        ActionResult,
        Actor,
        Alert,
        AlertStatus,
        Decision,
        DecisionKind,
        DecisionOutcome,
        EventType,
        IncidentState,
        IncidentStatus,
        PendingDecision,
        PhaseName,
        PhaseTiming,
        Playbook,
        Step,
        StepState,
        StepStatus,
        TimeoutRule,
    )
    from workflows.approvals import check_principal, check_step
    from workflows.contracts import (
        AUDIT_APPEND,
        DEFAULT_HISTORY_LIMIT,
        NOTIFY_SEND,
        RESOLVE_PLAYBOOK,
        AppendInput,
        Carry,
        IncidentInput,
        ResolvedPlaybook,
    )
    from workflows.outbox import Outbox

TIMEOUT_ACTOR = Actor(id="firebreak/timeout", role="system")
SEEN_ALERTS_KEPT = 5000
"""Alert ids remembered for de-duplication across continue-as-new."""
# Patch id: an effect that changed nothing (already in place, or held by another incident under
# the resource guard) has nothing to undo, so neither `undo` steps nor `abort` run its inverse.
UNDO_ONLY_CHANGES = "undo-only-changes"
# Patch id: actions marked `local` in the catalogue run as local activities.
LOCAL_ACTIONS = "local-actions"
# Patch id: notifications are sent by a local activity (a short call, retried in the worker).
LOCAL_NOTIFY = "local-notify"
# Patch id: while the workflow waits, alert events are appended in batches (see `_flush`).
BATCHED_ATTACH = "batched-attach"
ATTACH_DELAY = timedelta(seconds=1)
"""How long attached alerts may wait for their audit append while the workflow waits."""
ATTACH_BATCH = 200
"""Alert events that are appended at once, without waiting for `ATTACH_DELAY`."""
ALERT_EVENTS = frozenset({EventType.alert_attached.value, EventType.alert_resolved.value})
OUTCOMES_KEPT = 1000

AUDIT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
NOTIFY_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=30))


class _ContinueAsNew(Exception):
    """Raised out of a wait when history is large; caught at the top of `run`."""


class _ActionFailed(Exception):
    """An action activity failed for good (after its retries); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


ActivityFailure = (ActivityError, ApplicationError)
"""How a failed activity surfaces: a regular one as ActivityError around its cause, a local
one as the ApplicationError itself (its timeouts still as ActivityError)."""


@workflow.defn(name="Incident")
class IncidentWorkflow:
    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        info = workflow.info()
        alert = inp.alert
        self._alert = alert
        self._buffer: list[Alert] = []
        self._attach_due: datetime | None = None
        self._abort: Decision | None = None
        self._retry_by: Decision | None = None
        carry = inp.carry
        if carry is not None:
            self._state = carry.state
            self._outbox = Outbox(self._state.incident_id)
            self._playbook: Playbook | None = carry.playbook
            self._quiet_seconds = carry.quiet_seconds
            self._history_limit = carry.history_limit
            self._pos = (carry.phase_index, carry.step_index)
            self._seen: dict[str, None] = dict.fromkeys(carry.seen_alerts)
            self._outcomes: dict[str, DecisionOutcome] = dict(carry.outcomes)
            self._buffer.extend(carry.pending_alerts)
            self._contained_at: datetime | None = carry.contained_at
            self._last_alert_at: datetime | None = carry.last_alert_at
            return
        self._state = IncidentState(
            incident_id=f"{info.workflow_id}.{info.first_execution_run_id}",
            workflow_id=info.workflow_id,
            status=IncidentStatus.active,
            type=alert.type,
            severity=alert.severity,
            environment=alert.environment,
            title=alert.title,
            correlation_key=alert.correlation_key,
            opened_at=workflow.now(),
        )
        self._outbox = Outbox(self._state.incident_id)
        self._playbook = None
        self._quiet_seconds = 0
        self._history_limit = DEFAULT_HISTORY_LIMIT
        self._pos = (0, 0)
        self._seen = {}
        self._outcomes = {}
        self._contained_at = None
        self._last_alert_at = None
        self._buffer.append(alert)

    # --- handlers -----------------------------------------------------------------------

    @workflow.signal(name="alert")
    def alert(self, alert: Alert) -> None:
        self._buffer.append(alert)

    @workflow.signal(name="alerts")
    def alerts(self, alerts: list[Alert]) -> None:
        """Several alerts of this key in one signal: one workflow task for a whole burst."""
        self._buffer.extend(alerts)

    @workflow.query(name="state")
    def state(self) -> IncidentState:
        return self._view()

    @workflow.update(name="decide")
    def decide(self, decision: Decision) -> DecisionOutcome:
        known = self._outcomes.get(decision.decision_id)
        if known is not None:
            return known
        step = self._step(decision.step_id)
        assert step is not None
        actor = Actor(id=decision.principal, role=decision.role.value)
        base = {"step_id": step.step_id, "decision_id": decision.decision_id}
        who = {**base, "principal": decision.principal, "reason": decision.reason}
        if decision.kind is DecisionKind.approve:
            step.approved_by.append(decision.principal)
            if len(step.approved_by) >= step.approvals_required:
                step.status = StepStatus.approved
            self._outbox.emit(
                EventType.step_approved,
                {
                    **who,
                    "approved_by": list(step.approved_by),
                    "approvals_required": step.approvals_required,
                },
                actor,
            )
        elif decision.kind is DecisionKind.reject:
            step.status = StepStatus.rejected
            step.finished_at = workflow.now()
            self._outbox.emit(EventType.step_rejected, who, actor)
        elif decision.kind is DecisionKind.retry:
            step.status = StepStatus.pending
            self._retry_by = decision
        elif decision.kind is DecisionKind.skip:
            self._skip(
                step,
                "decision",
                decision_id=decision.decision_id,
                principal=decision.principal,
                note=decision.reason,
            )
        else:
            if step.status is StepStatus.awaiting_approval:
                step.status = StepStatus.rejected
            else:
                step.status = StepStatus.failed
            step.finished_at = workflow.now()
            self._abort = decision
            self._outbox.emit(EventType.incident_aborted, who, actor)
        outcome = DecisionOutcome(
            decision_id=decision.decision_id,
            step_id=step.step_id,
            kind=decision.kind,
            step_status=step.status,
            approved_by=list(step.approved_by),
            approvals_required=step.approvals_required,
        )
        self._outcomes[decision.decision_id] = outcome
        return outcome

    @decide.validator
    def _validate_decision(self, decision: Decision) -> None:
        check_principal(decision, self._state.environment)
        if decision.decision_id in self._outcomes:
            return
        if self._state.closed_at is not None or self._abort is not None:
            raise ApplicationError("the incident is closed", type="Conflict", non_retryable=True)
        check_step(decision, self._step(decision.step_id))

    # --- main ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: IncidentInput) -> IncidentState:
        try:
            if inp.carry is None and not await self._open():
                return self._view()
            await self._run_playbook()
        except _ContinueAsNew:
            await self._flush()
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(IncidentInput(alert=self._alert, carry=self._carry()))
        return self._view()

    async def _open(self) -> bool:
        resolved = await workflow.execute_local_activity(
            RESOLVE_PLAYBOOK,
            self._alert,
            result_type=ResolvedPlaybook,
            start_to_close_timeout=timedelta(seconds=30),
        )
        self._playbook = resolved.playbook
        self._quiet_seconds = resolved.quiet_seconds
        self._history_limit = resolved.history_limit
        s, pb = self._state, resolved.playbook
        s.playbook = pb.id if pb else None
        s.playbook_hash = pb.content_hash if pb else None
        self._outbox.emit(
            EventType.incident_opened,
            {
                "incident_id": s.incident_id,
                "workflow_id": s.workflow_id,
                "run_id": workflow.info().run_id,
                "type": s.type,
                "severity": s.severity.value,
                "environment": s.environment.value,
                "title": s.title,
                "playbook": s.playbook,
                "playbook_hash": s.playbook_hash,
                "correlation_key": s.correlation_key,
                "alert_id": self._alert.id,
                "dry_run": bool(pb and pb.dry_run),
            },
        )
        self._attach_buffered()
        if pb is None:
            await self._close("playbook_error", error=resolved.error)
            return False
        for phase in pb.phases:
            for step in phase.steps:
                self._state.steps.append(self._plan_step(phase.name, step))
        return True

    async def _run_playbook(self) -> None:
        assert self._playbook is not None
        phases = self._playbook.phases
        start_phase, start_step = self._pos
        for pi in range(start_phase, len(phases)):
            phase = phases[pi]
            self._state.phase = phase.name
            timing = self._state.phases.setdefault(phase.name.value, PhaseTiming())
            if timing.started_at is None:
                timing.started_at = workflow.now()
                self._outbox.emit(EventType.phase_started, {"phase": phase.name.value})
            for si in range(start_step if pi == start_phase else 0, len(phase.steps)):
                self._pos = (pi, si)
                await self._run_step(phase.name, phase.steps[si])
                if self._abort is not None:
                    await self._compensate_all()
                    await self._close("aborted")
                    return
            self._state.current_step = None
            timing.completed_at = workflow.now()
            self._outbox.emit(EventType.phase_completed, {"phase": phase.name.value})
            if phase.name is PhaseName.containment:
                self._contained_at = workflow.now()
        self._pos = (len(phases), 0)
        await self._until_quiet()
        await self._close("resolved")

    async def _until_quiet(self) -> None:
        """Keep the incident open until no alert arrived for the quiet window, so a storm that
        outlasts the playbook still lands in this incident instead of opening new ones."""
        await self._flush()
        quiet, start = timedelta(seconds=self._quiet_seconds), workflow.now()
        while True:
            since = max(start, self._last_alert_at or start)
            remaining = self._seconds_until(since + quiet)
            if remaining <= 0:
                return
            await self._wait(lambda: False, remaining)

    # --- steps --------------------------------------------------------------------------

    async def _run_step(self, phase: PhaseName, step: Step) -> None:
        state = self._step(step.id)
        assert state is not None
        self._state.current_step = step.id
        target = self._step(step.undo) if step.undo else None
        if target and state.status is StepStatus.pending and state.attempts == 0:
            if target.status is not StepStatus.succeeded:
                self._skip(state, f"nothing to undo: {target.step_id} is {target.status.value}")
                return
            if _changed_nothing(target) and workflow.patched(UNDO_ONLY_CHANGES):
                self._skip(state, f"nothing to undo: {target.step_id} changed nothing")
                return
            state.params = {**self._inverse_params(target), **step.params}
        if state.status is StepStatus.pending and state.attempts == 0:
            await self._request_approval(step, state)
        if state.status is StepStatus.awaiting_approval:
            await self._await_approval(step, state)
        while True:
            status = state.status
            if status is StepStatus.awaiting_decision:
                await self._wait(lambda: state.status is not StepStatus.awaiting_decision, None)
                continue
            if status not in (StepStatus.pending, StepStatus.approved):
                return
            await self._attempt(phase, step, state)

    def _plan_step(self, phase: PhaseName, step: Step) -> StepState:
        """A step as planned at open; an undo step's parameters are filled when it runs."""
        target = self._step(step.undo) if step.undo else None
        action = ACTIONS[target.action].inverse if target else step.action
        assert action is not None
        return StepState(step_id=step.id, phase=phase, action=action, params=dict(step.params))

    async def _request_approval(self, step: Step, state: StepState) -> None:
        policy = step.policy_for(self._state.environment)
        if policy.approvals_required == 0:
            return
        now = workflow.now()
        state.status = StepStatus.awaiting_approval
        state.approvals_required = policy.approvals_required
        state.requested_by = self._alert.source
        state.requested_at = now
        state.deadline = now + timedelta(seconds=policy.deadline_seconds)
        self._outbox.emit(
            EventType.step_requested,
            {
                "phase": state.phase.value,
                "step_id": state.step_id,
                "action": state.action,
                "approvals_required": state.approvals_required,
                "deadline": state.deadline.isoformat(),
                "requested_by": state.requested_by,
            },
        )
        await self._notify(
            "approval",
            state,
            None,
            f"Approval needed: {state.action} ({state.approvals_required} of the responders)",
        )

    async def _await_approval(self, step: Step, state: StepState) -> None:
        policy = step.policy_for(self._state.environment)

        def waiting() -> bool:
            return state.status is not StepStatus.awaiting_approval

        assert state.deadline is not None
        if not state.escalated:
            if await self._wait(waiting, self._seconds_until(state.deadline)):
                return
            state.escalated = True
            state.deadline = state.deadline + timedelta(seconds=policy.escalation_seconds)
            self._outbox.emit(
                EventType.step_escalated,
                {
                    "phase": state.phase.value,
                    "step_id": state.step_id,
                    "action": state.action,
                    "escalate_to": policy.escalate_to,
                    "deadline": state.deadline.isoformat(),
                },
            )
            await self._notify(
                "escalation", state, policy.escalate_to, f"Escalated: {state.action} undecided"
            )
        if policy.on_timeout is TimeoutRule.escalate:
            await self._wait(waiting, None)
            return
        if await self._wait(waiting, self._seconds_until(state.deadline)):
            return
        payload = {
            "step_id": state.step_id,
            "decision_id": None,
            "principal": TIMEOUT_ACTOR.id,
            "reason": f"timeout rule: {policy.on_timeout.value}",
        }
        if policy.on_timeout is TimeoutRule.approve:
            state.status = StepStatus.approved
            self._outbox.emit(EventType.step_approved, payload, TIMEOUT_ACTOR)
        else:
            state.status = StepStatus.rejected
            state.finished_at = workflow.now()
            self._outbox.emit(EventType.step_rejected, payload, TIMEOUT_ACTOR)

    async def _attempt(self, phase: PhaseName, step: Step, state: StepState) -> None:
        """Run the action once (with its retry policy); on failure, ask people what to do."""
        state.status = StepStatus.running
        state.attempts += 1
        state.started_at = workflow.now()
        started: dict[str, Any] = {
            "phase": phase.value,
            "step_id": state.step_id,
            "action": state.action,
            "params": state.params,
            "attempt": state.attempts,
        }
        if self._retry_by is not None:
            started |= {"decision_id": self._retry_by.decision_id}
            started |= {"principal": self._retry_by.principal}
            self._retry_by = None
        self._outbox.emit(EventType.step_started, started)
        try:
            result = await self._execute(state, step, state.action, state.params, "")
        except _ActionFailed as exc:
            state.status = StepStatus.awaiting_decision
            state.error = exc.reason
            state.requested_at = workflow.now()
            state.deadline = None
            self._outbox.emit(
                EventType.step_failed,
                {**_ids(state), "attempt": state.attempts, "error": state.error},
            )
            await self._notify("failure", state, None, f"Step failed: {state.action}")
            return
        self._succeeded(state, result)
        if step.undo:
            target = self._step(step.undo)
            assert target is not None
            target.status = StepStatus.compensated
            self._outbox.emit(
                EventType.step_compensated,
                {**_ids(target), "action": state.action, "result": result.model_dump(mode="json")},
            )

    def _succeeded(self, state: StepState, result: ActionResult) -> None:
        state.status = StepStatus.succeeded
        state.result = result
        state.error = None
        state.finished_at = workflow.now()
        self._outbox.emit(
            EventType.step_succeeded, {**_ids(state), "result": result.model_dump(mode="json")}
        )
        if result.evidence:
            self._outbox.emit(
                EventType.evidence_collected,
                {"step_id": state.step_id, "digests": list(result.evidence)},
            )

    def _skip(self, state: StepState, reason: str, **extra: Any) -> None:
        state.status = StepStatus.skipped
        state.finished_at = workflow.now()
        self._outbox.emit(EventType.step_skipped, {**_ids(state), "reason": reason, **extra})

    async def _execute(
        self, state: StepState, step: Step | None, action: str, params: dict[str, str], tag: str
    ) -> ActionResult:
        """Run one action activity; a run past its stall deadline is reported, not killed."""
        spec = ACTIONS[action]
        assert self._playbook is not None
        inp = ActionInput(
            incident_id=self._state.incident_id,
            step_id=state.step_id,
            action=action,
            params=params,
            idempotency_key=f"{self._state.incident_id}/{state.step_id}{tag}",
            environment=self._state.environment,
            dry_run=self._playbook.dry_run,
        )
        await self._flush()  # the ledger shows a step started before its effect can happen
        timeout = timedelta(seconds=spec.start_to_close_seconds)
        retry = RetryPolicy(
            initial_interval=timedelta(seconds=1),
            maximum_interval=timedelta(seconds=30),
            maximum_attempts=(step.max_attempts if step else None) or spec.max_attempts,
            non_retryable_error_types=list(spec.non_retryable),
        )
        stall_after = step.stall_after_seconds if step else 600
        # A local activity holds the workflow task, so the stall timer is seen only at the task's
        # heartbeat (every 8 s): a step that asks to hear of a stall sooner runs as a regular one.
        local = spec.local and stall_after >= spec.start_to_close_seconds
        handle: ActivityHandle[ActionResult]
        if local and workflow.patched(LOCAL_ACTIONS):
            handle = workflow.start_local_activity(
                action,
                inp,
                result_type=ActionResult,
                start_to_close_timeout=timeout,
                retry_policy=retry,
            )
        else:
            handle = workflow.start_activity(
                action,
                inp,
                result_type=ActionResult,
                start_to_close_timeout=timeout,
                heartbeat_timeout=(
                    timedelta(seconds=spec.heartbeat_seconds) if spec.heartbeat_seconds else None
                ),
                retry_policy=retry,
            )
        if not await self._wait(handle.done, stall_after, may_continue=False):
            state.stalled = True
            self._outbox.emit(
                EventType.step_stalled,
                {
                    **_ids(state),
                    "action": action,
                    "attempt": state.attempts,
                    "running_seconds": stall_after,
                },
            )
            await self._notify("stalled", state, None, f"Step stalled: {action}")
            await self._wait(handle.done, None, may_continue=False)
        try:
            result: ActionResult = await handle
        except ActivityFailure as exc:
            raise _ActionFailed(_describe(exc)) from exc
        return result

    # --- compensation -------------------------------------------------------------------

    async def _compensate_all(self) -> None:
        """Undo, newest first, every effect that has an inverse and was not undone yet."""
        for state in reversed(self._state.steps):
            inverse = ACTIONS[state.action].inverse
            if state.status is not StepStatus.succeeded or inverse is None:
                continue
            if _changed_nothing(state) and workflow.patched(UNDO_ONLY_CHANGES):
                continue
            payload = {**_ids(state), "action": inverse}
            try:
                result = await self._execute(
                    state, None, inverse, self._inverse_params(state), "/compensate"
                )
            except _ActionFailed as exc:
                self._outbox.emit(EventType.step_compensated, {**payload, "error": exc.reason})
                continue
            state.status = StepStatus.compensated
            self._outbox.emit(
                EventType.step_compensated, {**payload, "result": result.model_dump(mode="json")}
            )

    @staticmethod
    def _inverse_params(state: StepState) -> dict[str, str]:
        inverse = ACTIONS[state.action].inverse
        assert inverse is not None
        spec = ACTIONS[inverse]
        known = set(spec.params) | set(spec.optional)
        given = state.result.inverse_params if state.result and state.result.inverse_params else {}
        return {k: v for k, v in {**state.params, **given}.items() if k in known}

    # --- plumbing -----------------------------------------------------------------------

    async def _wait(
        self, done: Callable[[], bool], seconds: float | None, *, may_continue: bool = True
    ) -> bool:
        """Wait for `done` up to `seconds`, attaching alerts and flushing audit events
        as they come. True if `done` holds; may leave through continue-as-new."""
        deadline = None if seconds is None else workflow.now() + timedelta(seconds=seconds)
        while True:
            await self._flush(batch_alerts=True)
            if done():
                return True
            if may_continue and self._history_is_long():
                raise _ContinueAsNew
            remaining = None
            if deadline is not None:
                remaining = self._seconds_until(deadline)
                if remaining <= 0:
                    return False
            timeout = remaining
            if self._attach_due is not None:
                attach_in = self._seconds_until(self._attach_due)
                timeout = attach_in if timeout is None else min(timeout, attach_in)
            try:
                await workflow.wait_condition(
                    lambda: done() or self._has_work() or (may_continue and self._long_batch()),
                    timeout=timeout,
                )
            except TimeoutError:
                if deadline is not None and self._seconds_until(deadline) <= 0:
                    await self._flush()
                    return done()

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
        return self._attach_due is not None and self._history_is_long()

    async def _flush(self, *, batch_alerts: bool = False) -> None:
        """Attach buffered alerts, then append every pending audit event in one batch.

        With `batch_alerts` (a waiting workflow), alert events alone wait up to `ATTACH_DELAY`
        or until `ATTACH_BATCH` of them are pending: under a stream of duplicates that is one
        audit append per incident per second instead of one per signal, each of which cost a
        local activity and a second workflow task. Nothing is at risk meanwhile: every alert
        is already in the ledger (`AlertReceived`, written by the API) and in this workflow's
        history, so a crash replays the same events.
        """
        self._attach_buffered()
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
            self._attach_buffered()

    def _attach_buffered(self) -> None:
        alerts, self._buffer = self._buffer, []
        for alert in alerts:
            key = _seen_key(alert)
            if key in self._seen:
                continue
            self._seen[key] = None
            self._last_alert_at = workflow.now()
            if alert.status is AlertStatus.resolved:
                self._state.resolved_alert_count += 1
                self._outbox.emit(
                    EventType.alert_resolved,
                    {
                        "alert_id": alert.id,
                        "resolved_alert_count": self._state.resolved_alert_count,
                    },
                )
                continue
            self._state.alert_count += 1
            self._outbox.emit(
                EventType.alert_attached,
                {
                    "alert_id": alert.id,
                    "status": alert.status.value,
                    "severity": alert.severity.value,
                    "alert_count": self._state.alert_count,
                },
            )

    async def _notify(self, kind: str, state: StepState, target: str | None, title: str) -> None:
        """Tell responders (or the escalation target); a notifier outage never stalls a step."""
        s = self._state
        message = Notification(
            incident_id=s.incident_id,
            title=title,
            body=f"{s.type} incident in {s.environment.value}: {s.title}\nstep {state.step_id}",
            severity=s.severity.value,
            environment=s.environment.value,
            step_id=state.step_id,
            action_hint=_HINTS[kind].format(incident=s.incident_id, step=state.step_id),
            recipient=target,
        )
        delivered = True
        timeout = timedelta(seconds=30)
        try:
            if workflow.patched(LOCAL_NOTIFY):
                await workflow.execute_local_activity(
                    NOTIFY_SEND, message, start_to_close_timeout=timeout, retry_policy=NOTIFY_RETRY
                )
            else:
                await workflow.execute_activity(
                    NOTIFY_SEND, message, start_to_close_timeout=timeout, retry_policy=NOTIFY_RETRY
                )
        except ActivityFailure:
            delivered = False
        self._outbox.emit(
            EventType.notification_sent,
            {
                "step_id": state.step_id,
                "kind": kind,
                "attempt": state.attempts,
                "target": target,
                "delivered": delivered,
            },
        )

    async def _close(self, outcome: str, error: str | None = None) -> None:
        s = self._state
        s.closed_at = workflow.now()
        s.outcome = outcome
        s.current_step = None
        s.status = IncidentStatus.aborted if outcome == "aborted" else IncidentStatus.closed
        contain = (self._contained_at - s.opened_at).total_seconds() if self._contained_at else None
        self._attach_buffered()
        payload: dict[str, Any] = {"outcome": outcome, "time_to_contain_seconds": contain}
        if error is not None:
            payload["error"] = error
        self._outbox.emit(EventType.incident_closed, payload)
        await self._flush()
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self._history_limit
        )

    def _step(self, step_id: str | None) -> StepState | None:
        return next((s for s in self._state.steps if s.step_id == step_id), None)

    @staticmethod
    def _seconds_until(moment: datetime) -> float:
        return (moment - workflow.now()).total_seconds()

    def _view(self) -> IncidentState:
        s = self._state
        pending = [
            PendingDecision(
                step_id=st.step_id,
                phase=st.phase,
                action=st.action,
                reason="approval" if st.status is StepStatus.awaiting_approval else "failure",
                approvals_required=st.approvals_required or 1,
                approved_by=list(st.approved_by),
                requested_by=st.requested_by,
                requested_at=st.requested_at or s.opened_at,
                deadline=st.deadline,
            )
            for st in s.steps
            if st.status in (StepStatus.awaiting_approval, StepStatus.awaiting_decision)
        ]
        status = s.status
        if s.closed_at is None:
            status = IncidentStatus.awaiting_decision if pending else IncidentStatus.active
        # Alerts signalled while a batch collects (`_flush`) count at once, as attached ones.
        unseen = {_seen_key(a): a.status for a in self._buffer if _seen_key(a) not in self._seen}
        resolved = sum(1 for status_ in unseen.values() if status_ is AlertStatus.resolved)
        counts = {
            "alert_count": s.alert_count + len(unseen) - resolved,
            "resolved_alert_count": s.resolved_alert_count + resolved,
        }
        return s.model_copy(update={"pending": pending, "status": status, **counts}, deep=True)

    def _carry(self) -> Carry:
        phase_index, step_index = self._pos
        return Carry(
            state=self._state,
            playbook=self._playbook,
            quiet_seconds=self._quiet_seconds,
            history_limit=self._history_limit,
            phase_index=phase_index,
            step_index=step_index,
            seen_alerts=list(self._seen)[-SEEN_ALERTS_KEPT:],
            outcomes=dict(list(self._outcomes.items())[-OUTCOMES_KEPT:]),
            pending_alerts=self._buffer,
            contained_at=self._contained_at,
            last_alert_at=self._last_alert_at,
        )


def _seen_key(alert: Alert) -> str:
    """An alert's firing and its resolution are each attached once."""
    return f"{alert.id}:resolved" if alert.status is AlertStatus.resolved else alert.id


def _changed_nothing(state: StepState) -> bool:
    return state.result is not None and not state.result.changed


_HINTS = {
    "approval": "firebreak decide {incident} {step} approve|reject",
    "escalation": "firebreak decide {incident} {step} approve|reject",
    "failure": "firebreak decide {incident} {step} retry|skip|abort",
    "stalled": "firebreak incidents show {incident}",
}
"""The command that answers each kind of notification."""


def _ids(state: StepState) -> dict[str, Any]:
    return {"phase": state.phase.value, "step_id": state.step_id, "action": state.action}


def _describe(exc: ActivityError | ApplicationError) -> str:
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    if isinstance(cause, ApplicationError):
        return f"{cause.type or 'Error'}: {cause.message}"
    if isinstance(cause, ActivityTimeout):
        return f"Timeout: {cause.type.name if cause.type else 'unknown'}"
    return f"{type(cause).__name__}: {cause}"
