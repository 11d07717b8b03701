"""How one action runs: as a local or a regular activity, with its retry policy and stall timer.

The action catalogue (`orchestrator.actions`) says how long an action may take, how often it is
retried, which errors are final and whether it is short enough to run as a local activity. A
step may ask for fewer attempts or to hear of a stall sooner. A run past its stall deadline is
reported (the caller's `on_stall`), never killed: the effect may still land, and the step keeps
waiting for it. A failure that survived its retries is an `ActionFailed` with a reason fit for
people, which the workflow turns into a question to the responders.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout
from temporalio.workflow import ActivityHandle

from orchestrator.actions import ACTIONS, ActionSpec
from orchestrator.domain import ActionInput, ActionResult, IncidentState, Step, StepState
from workflows.intake import AlertIntake
from workflows.patches import LOCAL_ACTIONS

DEFAULT_STALL_SECONDS = 600
"""When an action run by compensation (no step of its own) is reported as stalled."""

ActivityFailure = (ActivityError, ApplicationError)
"""How a failed activity surfaces: a regular one as ActivityError around its cause, a local
one as the ApplicationError itself (its timeouts still as ActivityError)."""


class ActionFailed(Exception):
    """An action activity failed for good (after its retries); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def describe(exc: ActivityError | ApplicationError) -> str:
    """A failure as responders read it: the error's type and message, or the timeout's kind."""
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    if isinstance(cause, ApplicationError):
        return f"{cause.type or 'Error'}: {cause.message}"
    if isinstance(cause, ActivityTimeout):
        return f"Timeout: {cause.type.name if cause.type else 'unknown'}"
    return f"{type(cause).__name__}: {cause}"


def retry_policy(spec: ActionSpec, step: Step | None) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=(step.max_attempts if step else None) or spec.max_attempts,
        non_retryable_error_types=list(spec.non_retryable),
    )


def _start(
    spec: ActionSpec, inp: ActionInput, step: Step | None, stall_after: float
) -> ActivityHandle[ActionResult]:
    timeout = timedelta(seconds=spec.start_to_close_seconds)
    retry = retry_policy(spec, step)
    # A local activity holds the workflow task, so the stall timer is seen only at the task's
    # heartbeat (every 8 s): a step that asks to hear of a stall sooner runs as a regular one.
    local = spec.local and stall_after >= spec.start_to_close_seconds
    if local and workflow.patched(LOCAL_ACTIONS):
        return workflow.start_local_activity(
            inp.action,
            inp,
            result_type=ActionResult,
            start_to_close_timeout=timeout,
            retry_policy=retry,
        )
    return workflow.start_activity(
        inp.action,
        inp,
        result_type=ActionResult,
        start_to_close_timeout=timeout,
        heartbeat_timeout=(
            timedelta(seconds=spec.heartbeat_seconds) if spec.heartbeat_seconds else None
        ),
        retry_policy=retry,
    )


def effect_key(incident: IncidentState, step_id: str, tag: str) -> str:
    """The idempotency key of one effect of a step: the same on every retry and replay of that
    effect, and new in each round of a reopened incident, so a rerun revokes the key that
    recovery restored instead of being answered with the first round's recorded effect.
    Round 0 keeps the key it always had, so incidents recorded before rounds existed map to
    the same effect records."""
    suffix = f"/round-{incident.reopened_count}" if incident.reopened_count else ""
    return f"{incident.incident_id}/{step_id}{tag}{suffix}"


async def run_action(
    incident: IncidentState,
    state: StepState,
    step: Step | None,
    action: str,
    params: dict[str, str],
    *,
    tag: str,
    dry_run: bool,
    intake: AlertIntake,
    on_stall: Callable[[float], Awaitable[None]],
) -> ActionResult:
    """Run `action` for the step `state` (of playbook `step`, None for compensation) and return
    its result; raise `ActionFailed` once its retries are spent.

    `tag` tells apart the idempotency keys of one step's different effects (its action, its
    compensation). The ledger shows the step started before its effect can happen: pending
    events are flushed first.
    """
    spec = ACTIONS[action]
    inp = ActionInput(
        incident_id=incident.incident_id,
        step_id=state.step_id,
        action=action,
        params=params,
        idempotency_key=effect_key(incident, state.step_id, tag),
        environment=incident.environment,
        dry_run=dry_run,
    )
    await intake.flush()
    stall_after = step.stall_after_seconds if step else DEFAULT_STALL_SECONDS
    handle = _start(spec, inp, step, stall_after)
    if not await intake.wait(handle.done, stall_after, may_continue=False):
        await on_stall(stall_after)
        await intake.wait(handle.done, None, may_continue=False)
    try:
        result: ActionResult = await handle
    except ActivityFailure as exc:
        raise ActionFailed(describe(exc)) from exc
    return result
