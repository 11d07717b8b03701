"""Firebreak's ids on every activity's span and on the HTTP calls the activity makes.

Temporal's `TracingInterceptor` opens `RunActivity:<name>` with Temporal's ids only. This
interceptor, inside it, adds the incident and step the activity's input names (an action's
`ActionInput`, a `Notification`) and, for a catalogue action, `firebreak.action`, through
`spans.scope`, so the provider's HTTP client spans carry them too. Only ids are read from the
input, never its parameters or text.
"""

from __future__ import annotations

from typing import Any

import temporalio.client
import temporalio.worker
from temporalio import activity

from orchestrator.actions import ACTIONS
from orchestrator.telemetry.spans import ACTION, INCIDENT, STEP, Attribute, scope

_IDS = (("incident_id", INCIDENT), ("step_id", STEP))


class ActivityIds(temporalio.client.Interceptor, temporalio.worker.Interceptor):
    """Given to the client after Temporal's tracing interceptor; workers on that client use
    it for activities (it changes nothing on the client side)."""

    def intercept_activity(
        self, next: temporalio.worker.ActivityInboundInterceptor
    ) -> temporalio.worker.ActivityInboundInterceptor:
        return _Inbound(next)


class _Inbound(temporalio.worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: temporalio.worker.ExecuteActivityInput) -> Any:
        with scope(ids_of(activity.info().activity_type, input.args)):
            return await self.next.execute_activity(input)


def ids_of(activity_type: str, args: Any) -> dict[str, Attribute]:
    """The attributes an activity's span gets from its type and decoded arguments."""
    first = args[0] if args else None
    found: dict[str, Attribute] = {ACTION: activity_type} if activity_type in ACTIONS else {}
    for field, attribute in _IDS:
        value = getattr(first, field, None)
        if isinstance(value, str) and value:
            found[attribute] = value
    return found
