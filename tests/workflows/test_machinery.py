"""The pure parts of the workflow's helpers, without a server: failure descriptions, retry
policies, inverse parameters, alert keys, and the command a notification answers with."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutType
from temporalio.exceptions import TimeoutError as ActivityTimeout

from activities.notify import with_answer
from orchestrator.actions import ACTIONS
from orchestrator.domain import (
    ActionResult,
    Alert,
    AlertStatus,
    PhaseName,
    Step,
    StepState,
    StepStatus,
)
from workflows.compensation import changed_nothing, inverse_params
from workflows.contracts import Notification
from workflows.execution import describe, retry_policy
from workflows.intake import seen_key
from workflows.notifications import Ask


def activity_error(cause: BaseException) -> ActivityError:
    error = ActivityError(
        "activity failed",
        scheduled_event_id=1,
        started_event_id=2,
        identity="worker",
        activity_type="keys.revoke",
        activity_id="1",
        retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED,
    )
    error.__cause__ = cause
    return error


def test_a_failure_is_described_by_its_type_and_message_local_or_regular() -> None:
    cause = ApplicationError("gateway answered 503", type="Unavailable")
    assert describe(cause) == "Unavailable: gateway answered 503"
    assert describe(activity_error(cause)) == "Unavailable: gateway answered 503"


def test_a_timeout_is_described_by_its_kind() -> None:
    timeout = ActivityTimeout(
        "timed out", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]
    )
    assert describe(activity_error(timeout)) == "Timeout: START_TO_CLOSE"


def test_a_step_may_lower_the_attempts_and_final_errors_are_never_retried() -> None:
    spec = ACTIONS["models.rollback"]
    step = Step(id="rollback", action="models.rollback", params={"model": "m"}, max_attempts=2)
    assert retry_policy(spec, step).maximum_attempts == 2
    default = retry_policy(spec, None)
    assert default.maximum_attempts == spec.max_attempts
    assert "InvalidParams" in default.non_retryable_error_types


def revoked(result: ActionResult | None) -> StepState:
    return StepState(
        step_id="revoke",
        phase=PhaseName.containment,
        action="keys.revoke",
        status=StepStatus.succeeded,
        params={"key_id": "k-1", "reason": "leak"},
        result=result,
    )


def test_inverse_params_take_what_the_result_says_and_only_what_the_inverse_accepts() -> None:
    result = ActionResult(
        action="models.rollback",
        changed=True,
        summary="rolled back",
        inverse_params={"version": "3"},
    )
    rolled = StepState(
        step_id="rollback",
        phase=PhaseName.eradication,
        action="models.rollback",
        params={"model": "m", "alias": "production", "unrelated": "x"},
        result=result,
    )
    assert inverse_params(rolled) == {"model": "m", "alias": "production", "version": "3"}


def test_an_effect_that_changed_nothing_has_nothing_to_undo() -> None:
    unchanged = ActionResult(action="keys.revoke", changed=False, summary="already revoked")
    changed = ActionResult(action="keys.revoke", changed=True, summary="revoked")
    assert changed_nothing(revoked(unchanged))
    assert not changed_nothing(revoked(changed))
    assert not changed_nothing(revoked(None))


def test_a_firing_and_its_resolution_are_attached_once_each() -> None:
    firing = Alert.model_validate(
        {
            "id": "a-1",
            "source": "detector",
            "type": "model_extraction",
            "title": "burst",
            "correlation_key": "k",
            "fingerprint": "f",
            "received_at": "2026-12-01T09:00:00Z",
        }
    )
    resolved = firing.model_copy(update={"status": AlertStatus.resolved})
    assert seen_key(firing) != seen_key(resolved)
    assert seen_key(firing) == seen_key(firing.model_copy())


MESSAGE = {"incident_id": "inc-1", "title": "t", "body": "b", "severity": "high"}


def message(kind: str | None, hint: str | None = None) -> Notification:
    fields = {**MESSAGE, "environment": "prod", "step_id": "rollback"}
    return Notification.model_validate({**fields, "kind": kind, "action_hint": hint})


def test_every_kind_a_workflow_sends_has_an_answer() -> None:
    for ask in Ask:
        answered = with_answer(message(ask.value))
        assert answered.action_hint is not None
        assert "inc-1" in answered.action_hint


def test_a_decision_notification_names_the_step_and_its_choices() -> None:
    answered = with_answer(message("failure"))
    assert answered.action_hint == "firebreak decide inc-1 rollback retry|skip|abort"


def test_a_message_recorded_with_its_hint_keeps_it() -> None:
    assert with_answer(message(None, "firebreak x")).action_hint == "firebreak x"
    assert with_answer(message(None)).action_hint is None
