"""Per-resource guard: one remediation per resource per window, across incidents.

The rule: when incident A has applied a remediating action (revoke a key, roll back or retrain
a model, quarantine a dataset, suspend an agent tool) to a resource, another incident asking
for a remediation of the *same resource* within `guard_window_seconds` gets `changed=False`
and a summary naming A and the time, and nothing is done. Incident A itself is never blocked
(its retries and later steps pass). Inverses (restore, release) claim nothing and do not
clear the claim, so a remediate -> restore -> re-alert loop still stops at the guard; but an
inverse asked for by an incident other than the holder is refused within the window, so an
incident whose own remediation was refused cannot undo the holder's. A new claim whose effect
failed is withdrawn, so a failed attempt blocks nobody.

The guard sits in the activities rather than in providers, so every provider gets it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel

from activities.providers.local.state import JsonState


class GuardHold(BaseModel):
    """The incident that already remediated a resource, and when."""

    incident_id: str
    action: str
    at: datetime


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ResourceGuard:
    def __init__(
        self, path: Path, window_seconds: int, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.state = JsonState(path, lambda: {"claims": {}})
        self.window = timedelta(seconds=window_seconds)
        self.clock = clock

    def _holder(
        self, claims: dict[str, dict[str, str]], resource: str, incident_id: str
    ) -> GuardHold | None:
        claim = claims.get(resource)
        if claim is None or claim["incident_id"] == incident_id:
            return None
        hold = GuardHold.model_validate(claim)
        return hold if self.clock() - hold.at < self.window else None

    def check(self, resource: str, incident_id: str) -> GuardHold | None:
        """The other incident holding `resource`, without claiming it (for dry runs)."""
        return self._holder(self.state.read()["claims"], resource, incident_id)

    def claim(self, resource: str, incident_id: str, action: str) -> GuardHold | bool:
        """Claim `resource` for `incident_id`: the other incident holding it, or whether the
        claim is new (only a new claim may be withdrawn when the effect fails)."""
        with self.state.update() as doc:
            holder = self._holder(doc["claims"], resource, incident_id)
            if holder is not None:
                return holder
            current = doc["claims"].get(resource)
            if current is not None and current["incident_id"] == incident_id:
                return False
            doc["claims"][resource] = GuardHold(
                incident_id=incident_id, action=action, at=self.clock()
            ).model_dump(mode="json")
            return True

    def withdraw(self, resource: str, incident_id: str) -> None:
        """Drop `incident_id`'s claim after its effect failed."""
        with self.state.update() as doc:
            if doc["claims"].get(resource, {}).get("incident_id") == incident_id:
                del doc["claims"][resource]
