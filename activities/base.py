"""What every action activity shares: registration, parameter checks, error mapping, guard.

`@action("keys.revoke")` registers a method as the Temporal activity of that catalogue name,
rejects missing or unknown parameters before the provider is touched, and turns the package's
`ActivityError`s into Temporal `ApplicationError`s (non-retryable where retrying cannot help).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio import activity

from activities.errors import ActivityError, InvalidParams, as_application_error
from activities.guard import GuardHold, ResourceGuard
from orchestrator.actions import ACTIONS
from orchestrator.domain import ActionInput, ActionResult

SelfT = TypeVar("SelfT")
ActionMethod = Callable[[SelfT, ActionInput], Awaitable[ActionResult]]


def check_params(name: str, input: ActionInput) -> None:
    """Every required parameter present and non-empty; nothing the catalogue does not know."""
    spec = ACTIONS[name]
    if input.action != name:
        raise InvalidParams(f"activity {name} was called for action {input.action!r}", "action")
    for param in spec.params:
        if not input.params.get(param, "").strip():
            raise InvalidParams(f"{name}: missing required parameter {param!r}", param)
    for param, value in input.params.items():
        if "\x00" in value:
            # No system names a resource with a NUL, and PostgreSQL text cannot hold one: the
            # guard's claim would fail on every retry instead of once, here.
            raise InvalidParams(f"{name}: parameter {param!r} contains a NUL character", param)
    known = set(spec.params) | set(spec.optional)
    for param in sorted(set(input.params) - known):
        raise InvalidParams(f"{name}: unknown parameter {param!r}", param)


def action(name: str) -> Callable[[ActionMethod[SelfT]], ActionMethod[SelfT]]:
    """Register a method as the activity for catalogue action `name`."""
    if name not in ACTIONS:
        raise KeyError(f"{name!r} is not in the action catalogue")

    def decorate(method: ActionMethod[SelfT]) -> ActionMethod[SelfT]:
        @functools.wraps(method)
        async def run(self: SelfT, input: ActionInput) -> ActionResult:
            try:
                check_params(name, input)
                return await method(self, input)
            except ActivityError as exc:
                raise as_application_error(exc) from None

        return activity.defn(name=name)(run)

    return decorate


def optional(input: ActionInput, param: str) -> str | None:
    value = input.params.get(param, "").strip()
    return value or None


def reason(input: ActionInput) -> str:
    return f"firebreak incident {input.incident_id} step {input.step_id}"


def dry_run(input: ActionInput, would: str, **outputs: str) -> ActionResult:
    """The result of a dry run: what would be done, with nothing changed."""
    return ActionResult(
        action=input.action, changed=False, summary=f"dry run: would {would}", outputs=outputs
    )


def held_result(
    input: ActionInput, resource: str, hold: GuardHold, *, undo: bool = False
) -> ActionResult:
    rule = "; only that incident may undo it within the guard window" if undo else ""
    return ActionResult(
        action=input.action,
        changed=False,
        summary=(
            f"{resource} was already remediated by incident {hold.incident_id} "
            f"({hold.action}) at {hold.at.isoformat()}{rule}; nothing done"
        ),
        outputs={"guarded_by": hold.incident_id, "guarded_at": hold.at.isoformat()},
    )


async def guarded(
    guard: ResourceGuard,
    resource: str,
    input: ActionInput,
    effect: Callable[[], Awaitable[ActionResult]],
    *,
    remediated: Callable[[ActionResult], bool] | None = None,
) -> ActionResult:
    """Run `effect` unless another incident remediated `resource` within the guard window.

    A new claim is withdrawn when the effect fails, and when `remediated` says the result left
    the resource alone (a rollback that found the alias serving another version): a claim
    there would hold off the incident that has the resource to remediate."""
    if input.dry_run:
        hold = await asyncio.to_thread(guard.check, resource, input.incident_id)
        return held_result(input, resource, hold) if hold else await effect()
    claim = await asyncio.to_thread(guard.claim, resource, input.incident_id, input.action)
    if isinstance(claim, GuardHold):
        return held_result(input, resource, claim)
    try:
        result = await effect()
    except BaseException:
        if claim:
            await asyncio.to_thread(guard.withdraw, resource, input.incident_id)
        raise
    if claim and remediated is not None and not remediated(result):
        await asyncio.to_thread(guard.withdraw, resource, input.incident_id)
    return result


async def undo_guarded(
    guard: ResourceGuard,
    resource: str,
    input: ActionInput,
    effect: Callable[[], Awaitable[ActionResult]],
) -> ActionResult:
    """Run an inverse unless another incident's remediation of `resource` is in force: an
    incident whose own remediation was refused by the guard must not undo someone else's."""
    hold = await asyncio.to_thread(guard.check, resource, input.incident_id)
    return held_result(input, resource, hold, undo=True) if hold else await effect()


def outcome(
    input: ActionInput,
    changed: bool,
    done: str,
    already: str,
    outputs: dict[str, str],
    inverse: dict[str, str] | None = None,
) -> ActionResult:
    """The result of an effect: `done` if this step changed something, else `already`; only a
    change has an inverse to run at compensation."""
    return ActionResult(
        action=input.action,
        changed=changed,
        summary=done if changed else already,
        outputs=outputs,
        inverse_params=inverse if changed else None,
    )
