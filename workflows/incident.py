"""The incident workflow: a deterministic interpreter of one playbook for one incident.

It runs the playbook's phases in order; each step may wait for approval (update `decide`,
validated by `workflows.approvals`), escalate and apply its timeout rule, run its action, and
ask people what to do when the action fails; an abort compensates what was done. Its state is
the `state` query; the `merge` and `absorb` updates merge two incidents. The machinery lives
beside it, one job a module:

- `workflows.intake`: alerts signalled at any time (`alert`, `alerts`) attached once each, the
  audit events flushed to the ledger, and every wait (which may continue as new);
- `workflows.execution`: how one action runs (local or regular activity, retries, stall timer);
- `workflows.transitions`: each step transition with the audit event that records it;
- `workflows.notifications`: telling people; `workflows.compensation`: what undoing takes;
- `workflows.triage`: an incident no playbook fits waits for a responder to assign one;
- `workflows.merging`: a responder merges this incident into another (`merge`, `absorb`);
- `workflows.lifecycle`: open, contained, resolved, closed, reopened; acknowledge, resolve and
  close by responders; `workflows.sla`: the SLA clock's timers;
- `workflows.view`: what the `state` query shows;
- `workflows.patches`: where command order changed, for incidents running across an upgrade.

Everything here is replay-safe: time is `workflow.now()`, event ids derive from the incident
and the event's subject (`workflows.outbox`), and every effect is an activity. The step
methods resume from the step's recorded status, which is what lets a long wait (a storm during
an approval) continue as new without losing its place.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from orchestrator.actions import ACTIONS
    from orchestrator.domain import (
        LIFECYCLE_STEP,
        TRIAGE_STEP,
        ActionResult,
        Actor,
        Alert,
        Decision,
        DecisionKind,
        DecisionOutcome,
        EventType,
        IncidentState,
        IncidentStatus,
        MergeOutcome,
        MergeRequest,
        PhaseName,
        PhaseTiming,
        Playbook,
        ReopenRule,
        SlaLeg,
        Step,
        StepState,
        StepStatus,
        TimeoutRule,
    )
    from workflows import lifecycle, transitions, triage
    from workflows.approvals import check_principal, check_step, check_triage, conflict
    from workflows.compensation import changed_nothing, inverse_params
    from workflows.contracts import (
        DEFAULT_HISTORY_LIMIT,
        RESOLVE_PLAYBOOK,
        Carry,
        IncidentInput,
        ResolvedPlaybook,
    )
    from workflows.execution import ActionFailed, run_action
    from workflows.intake import AlertIntake, ContinueAsNew, seconds_until
    from workflows.lifecycle import Lifecycle
    from workflows.merging import MergedAway, MergeDesk, check_merge
    from workflows.notifications import Ask, notify
    from workflows.outbox import Outbox
    from workflows.outputs import Unresolved, evaluate, has_references, render
    from workflows.patches import LIFECYCLE, TRIAGE, UNDO_ONLY_CHANGES
    from workflows.sla import SlaClock
    from workflows.triage import TriageDesk
    from workflows.view import incident_view

OUTCOMES_KEPT = 1000
"""Decision outcomes remembered across continue-as-new, so a repeated decision id is answered."""


@workflow.defn(name="Incident")
class IncidentWorkflow:
    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        self._alert = inp.alert
        self._abort: Decision | None = None
        self._retry_by: Decision | None = None
        carry = inp.carry
        if carry is not None:
            self._state = carry.state
            self._playbook: Playbook | None = carry.playbook
            self._quiet_seconds = carry.quiet_seconds
            self._pos = (carry.phase_index, carry.step_index)
            self._outcomes: dict[str, DecisionOutcome] = dict(carry.outcomes)
            self._contained_at: datetime | None = carry.contained_at
            self._outbox = Outbox(self._state.incident_id)
            self._intake = AlertIntake(
                self._state,
                self._outbox,
                carry.history_limit,
                seen=carry.seen_alerts,
                pending=carry.pending_alerts,
                last_alert_at=carry.last_alert_at,
            )
            self._triage = TriageDesk(self._state, self._alert, self._outbox, self._intake)
            self._merges = MergeDesk(self._state, self._outbox, self._intake)
            self._life = Lifecycle(self._state, self._outbox, carry.resolved_mark)
            self._sla = SlaClock(self._state, self._outbox, self._sla_breached)
            return
        info = workflow.info()
        self._state = IncidentState(
            incident_id=f"{info.workflow_id}.{info.first_execution_run_id}",
            workflow_id=info.workflow_id,
            status=IncidentStatus.active,
            type=self._alert.type,
            severity=self._alert.severity,
            environment=self._alert.environment,
            title=self._alert.title,
            correlation_key=self._alert.correlation_key,
            opened_at=workflow.now(),
        )
        self._playbook = None
        self._quiet_seconds = 0
        self._pos = (0, 0)
        self._outcomes = {}
        self._contained_at = None
        self._outbox = Outbox(self._state.incident_id)
        self._intake = AlertIntake(
            self._state, self._outbox, DEFAULT_HISTORY_LIMIT, pending=[self._alert]
        )
        self._triage = TriageDesk(self._state, self._alert, self._outbox, self._intake)
        self._merges = MergeDesk(self._state, self._outbox, self._intake)
        self._life = Lifecycle(self._state, self._outbox)
        self._sla = SlaClock(self._state, self._outbox, self._sla_breached)

    # --- handlers -----------------------------------------------------------------------

    @workflow.signal(name="alert")
    def alert(self, alert: Alert) -> None:
        self._intake.add([alert])

    @workflow.signal(name="alerts")
    def alerts(self, alerts: list[Alert]) -> None:
        """Several alerts of this key in one signal: one workflow task for a whole burst."""
        self._intake.add(alerts)

    @workflow.query(name="state")
    def state(self) -> IncidentState:
        return self._view()

    @workflow.update(name="decide")
    def decide(self, decision: Decision) -> DecisionOutcome:
        known = self._outcomes.get(decision.decision_id)
        if known is not None:
            return known
        if decision.step_id == TRIAGE_STEP:
            return self._remember(self._triage.take(decision))
        if decision.step_id == LIFECYCLE_STEP:
            return self._remember(self._life.take(decision))
        step = self._step(decision.step_id)
        assert step is not None
        if decision.kind is DecisionKind.retry:
            self._retry_by = decision
        elif decision.kind is DecisionKind.abort:
            self._abort = decision
        return self._remember(transitions.decided(step, decision, self._outbox))

    def _remember(self, outcome: DecisionOutcome) -> DecisionOutcome:
        self._outcomes[outcome.decision_id] = outcome
        return outcome

    @decide.validator
    def _validate_decision(self, decision: Decision) -> None:
        check_principal(decision, self._state.environment)
        if decision.decision_id in self._outcomes:
            return
        if self._state.closed_at is not None or self._abort is not None:
            raise conflict("the incident is closed")
        if self._state.merged_into is not None:
            raise conflict(f"the incident is merged into {self._state.merged_into}")
        if decision.step_id == TRIAGE_STEP:
            check_triage(decision, self._state.triage)
            return
        if decision.step_id == LIFECYCLE_STEP:
            lifecycle.check(decision, self._state)
            return
        check_step(decision, self._step(decision.step_id))

    @workflow.update(name="merge")
    def merge(self, request: MergeRequest) -> MergeOutcome:
        """Merge this incident into `request.into` (`workflows.merging`): it closes as
        `merged` at its next wait."""
        return self._merges.merge_away(request)

    @merge.validator
    def _validate_merge(self, request: MergeRequest) -> None:
        check_merge(request, self._state, survivor=False)

    @workflow.update(name="absorb")
    def absorb(self, request: MergeRequest) -> MergeOutcome:
        """Take in the incident merged into this one."""
        return self._merges.absorb(request)

    @absorb.validator
    def _validate_absorb(self, request: MergeRequest) -> None:
        check_merge(request, self._state, survivor=True)

    # --- main ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: IncidentInput) -> IncidentState:
        try:
            if inp.carry is None:
                # The first command of a run, before any local activity (see `_open`).
                if workflow.patched(LIFECYCLE):
                    self._state.lifecycle, self._state.status = True, IncidentStatus.open
                if not await self._open():
                    return self._view()
            else:
                self._sla.start()
            if self._playbook is None and not await self._settle_triage():
                return self._view()
            await self._run_playbook()
        except ContinueAsNew:
            await self._sla.stop()
            await self._intake.flush()
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(IncidentInput(alert=self._alert, carry=self._carry()))
        except MergedAway:
            await self._close("merged")
        return self._view()

    async def _open(self) -> bool:
        # Asked before the first local activity: a patch asked right after one was seen to
        # replay as unpatched when a query reached the workflow while that activity ran (the
        # workflow task was cut after the activity's marker; replay does not cut it there).
        triage_enabled = workflow.patched(TRIAGE)
        resolved = await workflow.execute_local_activity(
            RESOLVE_PLAYBOOK,
            self._alert,
            result_type=ResolvedPlaybook,
            start_to_close_timeout=timedelta(seconds=30),
        )
        self._quiet_seconds = resolved.quiet_seconds
        self._intake.history_limit = resolved.history_limit
        if self._state.lifecycle:
            self._state.sla = resolved.sla
            self._sla.start()
        pb = resolved.playbook
        transitions.opened(self._state, self._alert, pb, workflow.info().run_id, self._outbox)
        self._intake.attach()
        if pb is None:
            if not triage_enabled:
                await self._close("playbook_error", error=resolved.error)
                return False
            await self._triage.enter(resolved.error or "no playbook")
            return True
        self._adopt(pb)
        return True

    def _adopt(self, playbook: Playbook) -> None:
        """Run `playbook`: its steps are planned now, each resolved when it runs."""
        self._playbook = playbook
        for phase in playbook.phases:
            for step in phase.steps:
                self._state.steps.append(self._plan_step(phase.name, step))

    async def _settle_triage(self) -> bool:
        """Run the playbook a responder assigns (True), or close as they decide (False)."""
        settled = await self._triage.settle()
        if isinstance(settled, Decision):
            await self._close("closed_in_triage", decided=settled)
            return False
        self._adopt(settled)
        return True

    async def _run_playbook(self) -> None:
        """Run the phases; then, on the lifecycle, stay resolved until the incident closes,
        running the phases again each time a new alert reopens it under `rerun`."""
        assert self._playbook is not None
        while await self._run_phases():
            if not self._state.lifecycle:
                await self._until_quiet()
                await self._close("resolved")
                return
            self._life.phases_done(self._playbook.on_reopen)
            if not await self._until_closed():
                return
            self._rerun()

    async def _run_phases(self) -> bool:
        """Run the phases from where the incident stands; False once it aborted (closed)."""
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
                if self._merges.merged_away:
                    raise MergedAway
                if self._abort is not None:
                    await self._compensate_all()
                    await self._close("aborted")
                    return False
                if self._life.resolved:  # a responder resolved it: nothing else starts
                    self._life.skip_rest()
                    self._state.current_step = None
                    self._pos = (len(phases), 0)
                    return True
            self._state.current_step = None
            timing.completed_at = workflow.now()
            self._outbox.emit(EventType.phase_completed, {"phase": phase.name.value})
            if phase.name is PhaseName.containment:
                self._contained_at = self._contained_at or workflow.now()
                if self._state.lifecycle:
                    self._life.contain()
        self._pos = (len(phases), 0)
        return True

    async def _until_closed(self) -> bool:
        """A resolved incident closes after the quiet period or when a responder closes it. A
        new alert reopens it: True when the phases are to run again (`rerun`); under
        `responder` it waits, open, for a responder to resolve it again."""
        assert self._playbook is not None
        rule = self._playbook.on_reopen
        life = self._life
        while True:
            if not life.resolved:
                await self._intake.wait(lambda: life.resolved, None)
                continue
            closing = life.closing()
            if closing is not None:
                await self._close("resolved", decided=closing)
                return False
            if life.reopens():
                life.reopen(rule)
                await notify(
                    self._state,
                    self._outbox,
                    Ask.reopened,
                    LIFECYCLE_STEP,
                    f"Reopened: a new alert after resolution ({rule.value})",
                    attempt=self._state.reopened_count,
                    local=True,
                )
                if rule is ReopenRule.rerun:
                    return True
                continue
            until = life.quiet_until(self._intake.last_alert_at, self._quiet_seconds)
            remaining = seconds_until(until)
            if remaining <= 0:
                await self._close("resolved")
                return False
            await self._intake.wait(lambda: life.closing() is not None or life.reopens(), remaining)

    def _rerun(self) -> None:
        """Reopened under `rerun`: the playbook's steps are planned afresh and run from the
        top, their events in the incident's new round."""
        assert self._playbook is not None
        self._state.steps, self._state.phases = [], {}
        self._adopt(self._playbook)
        self._pos = (0, 0)

    async def _sla_breached(self, leg: SlaLeg) -> None:
        sla = self._state.sla
        await notify(
            self._state,
            self._outbox,
            Ask.sla,
            LIFECYCLE_STEP,
            f"SLA breached: not {leg.value}d in time",
            attempt=len(self._state.sla_breached),
            target=sla.escalate_to if sla else None,
            local=True,
        )

    async def _until_quiet(self) -> None:
        """Keep the incident open until no alert arrived for the quiet window, so a storm that
        outlasts the playbook still lands in this incident instead of opening new ones."""
        await self._intake.flush()
        quiet, start = timedelta(seconds=self._quiet_seconds), workflow.now()
        while True:
            since = max(start, self._intake.last_alert_at or start)
            remaining = seconds_until(since + quiet)
            if remaining <= 0:
                return
            await self._intake.wait(lambda: False, remaining)

    # --- steps --------------------------------------------------------------------------

    def _plan_step(self, phase: PhaseName, step: Step) -> StepState:
        """A step as planned at open; an undo step's parameters are filled when it runs."""
        target = self._step(step.undo) if step.undo else None
        action = ACTIONS[target.action].inverse if target else step.action
        assert action is not None
        return StepState(step_id=step.id, phase=phase, action=action, params=dict(step.params))

    async def _run_step(self, phase: PhaseName, step: Step) -> None:
        state = self._step(step.id)
        assert state is not None
        self._state.current_step = step.id
        fresh = state.status is StepStatus.pending and state.attempts == 0
        if fresh and step.when is not None:
            state.condition = evaluate(step.when, self._state.steps)
            if not state.condition.met:
                transitions.skip(state, self._outbox, transitions.unmet(state.condition))
                return
        target = self._step(step.undo) if step.undo else None
        if target and fresh:
            if target.status is not StepStatus.succeeded:
                why = f"nothing to undo: {target.step_id} is {target.status.value}"
                transitions.skip(state, self._outbox, why)
                return
            if changed_nothing(target) and workflow.patched(UNDO_ONLY_CHANGES):
                why = f"nothing to undo: {target.step_id} changed nothing"
                transitions.skip(state, self._outbox, why)
                return
        if fresh and await self._fill_params(step, state, target):
            await self._request_approval(step, state)
        if state.status is StepStatus.awaiting_approval:
            await self._await_approval(step, state)
        while True:
            status = state.status
            if status is StepStatus.awaiting_decision:
                await self._intake.wait(
                    lambda: state.status is not StepStatus.awaiting_decision, None
                )
                continue
            if status not in (StepStatus.pending, StepStatus.approved):
                return
            await self._attempt(phase, step, state)

    async def _fill_params(self, step: Step, state: StepState, target: StepState | None) -> bool:
        """Set the step's parameters as it comes up: an undo step's start from what undoes its
        target, and earlier steps' outputs fill their references (`workflows.outputs`). An
        output that is not there fails the step, naming it, for people to skip or abort."""
        own = dict(step.params)
        if has_references(own):
            try:
                own = render(own, self._state.steps)
            except Unresolved as exc:
                transitions.fail(state, self._outbox, exc.reason)
                await self._notify(Ask.failure, state, f"Step cannot run: {state.action}")
                return False
        state.params = {**inverse_params(target), **own} if target else own
        return True

    async def _request_approval(self, step: Step, state: StepState) -> None:
        policy = step.policy_for(self._state.environment)
        if policy.approvals_required == 0:
            return
        transitions.request(state, policy, self._alert.source, self._outbox)
        title = f"Approval needed: {state.action} ({state.approvals_required} of the responders)"
        await self._notify(Ask.approval, state, title)

    async def _await_approval(self, step: Step, state: StepState) -> None:
        """Wait to the deadline, escalate, wait again, then apply the step's timeout rule."""
        policy = step.policy_for(self._state.environment)

        def decided() -> bool:
            return state.status is not StepStatus.awaiting_approval

        assert state.deadline is not None
        if not state.escalated:
            if await self._intake.wait(decided, seconds_until(state.deadline)):
                return
            transitions.escalate(state, policy, self._outbox)
            title = f"Escalated: {state.action} undecided"
            await self._notify(Ask.escalation, state, title, target=policy.escalate_to)
        if policy.on_timeout is TimeoutRule.escalate:
            await self._intake.wait(decided, None)
            return
        assert state.deadline is not None
        if await self._intake.wait(decided, seconds_until(state.deadline)):
            return
        reason = f"timeout rule: {policy.on_timeout.value}"
        actor = transitions.TIMEOUT_ACTOR
        if policy.on_timeout is TimeoutRule.approve:
            transitions.approve(
                state, self._outbox, actor, decision_id=None, reason=reason, by_rule=True
            )
        else:
            transitions.reject(state, self._outbox, actor, decision_id=None, reason=reason)

    async def _attempt(self, phase: PhaseName, step: Step, state: StepState) -> None:
        """Run the action once (with its retry policy); on failure, ask people what to do."""
        retry = self._retry_by
        self._retry_by = None
        retried_by = (retry.decision_id, retry.principal) if retry else None
        if has_references(step.params) and not await self._fill_params(
            step, state, self._step(step.undo) if step.undo else None
        ):
            return
        transitions.start(state, phase, self._outbox, retried_by=retried_by)
        try:
            result = await self._execute(state, step, state.action, state.params, "")
        except ActionFailed as exc:
            transitions.fail(state, self._outbox, exc.reason)
            if self._life.resolved:  # a responder resolved it meanwhile: nobody is asked
                self._life.skip_rest()
                return
            title = f"Step failed: {state.action}"
            await self._notify(Ask.failure, state, title)
            return
        transitions.succeed(state, self._outbox, result)
        if step.undo:
            target = self._step(step.undo)
            assert target is not None
            transitions.compensate(target, self._outbox, state.action, result=result)

    async def _execute(
        self, state: StepState, step: Step | None, action: str, params: dict[str, str], tag: str
    ) -> ActionResult:
        assert self._playbook is not None

        async def stalled(running_seconds: float) -> None:
            transitions.stall(state, self._outbox, action, running_seconds)
            title = f"Step stalled: {action}"
            await self._notify(Ask.stalled, state, title)

        return await run_action(
            self._state,
            state,
            step,
            action,
            params,
            tag=tag,
            dry_run=self._playbook.dry_run,
            intake=self._intake,
            on_stall=stalled,
        )

    async def _notify(
        self, kind: Ask, state: StepState, title: str, *, target: str | None = None
    ) -> None:
        await notify(
            self._state,
            self._outbox,
            kind,
            state.step_id,
            title,
            attempt=state.attempts,
            target=target,
        )

    async def _compensate_all(self) -> None:
        """Undo, newest first, every effect that has an inverse and was not undone yet."""
        for state in reversed(self._state.steps):
            inverse = ACTIONS[state.action].inverse
            if state.status is not StepStatus.succeeded or inverse is None:
                continue
            if changed_nothing(state) and workflow.patched(UNDO_ONLY_CHANGES):
                continue
            try:
                params = inverse_params(state)
                result = await self._execute(state, None, inverse, params, "/compensate")
            except ActionFailed as exc:
                transitions.compensate(state, self._outbox, inverse, error=exc.reason)
                continue
            transitions.compensate(state, self._outbox, inverse, result=result)

    # --- closing and state --------------------------------------------------------------

    async def _close(
        self, outcome: str, error: str | None = None, decided: Decision | None = None
    ) -> None:
        s = self._state
        s.closed_at = workflow.now()
        s.outcome = outcome
        s.current_step = None
        s.status = IncidentStatus.aborted if outcome == "aborted" else IncidentStatus.closed
        contain = (self._contained_at - s.opened_at).total_seconds() if self._contained_at else None
        self._intake.attach()
        payload: dict[str, Any] = {"outcome": outcome, "time_to_contain_seconds": contain}
        if error is not None:
            payload["error"] = error
        if s.merged_into is not None:
            payload["merged_into"] = s.merged_into
        actor = Actor.system()
        if decided is not None:
            payload |= triage.closing(decided)
            actor = decided.actor
        if s.lifecycle and s.resolved_at is not None:
            payload["time_to_resolve_seconds"] = (s.resolved_at - s.opened_at).total_seconds()
        self._outbox.emit(EventType.incident_closed, payload, actor)
        await self._sla.stop()
        await self._intake.flush()
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _step(self, step_id: str | None) -> StepState | None:
        return next((s for s in self._state.steps if s.step_id == step_id), None)

    def _view(self) -> IncidentState:
        return incident_view(self._state, self._intake.counts())

    def _carry(self) -> Carry:
        phase_index, step_index = self._pos
        return Carry(
            state=self._state,
            playbook=self._playbook,
            quiet_seconds=self._quiet_seconds,
            history_limit=self._intake.history_limit,
            phase_index=phase_index,
            step_index=step_index,
            seen_alerts=self._intake.seen_for_carry(),
            outcomes=dict(list(self._outcomes.items())[-OUTCOMES_KEPT:]),
            pending_alerts=self._intake.pending_for_carry(),
            contained_at=self._contained_at,
            last_alert_at=self._intake.last_alert_at,
            resolved_mark=self._life.resolved_mark,
        )
