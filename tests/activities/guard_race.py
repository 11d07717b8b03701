"""What one racing worker process does: its own engine on the shared database, a claim on each
resource the moment every racer is ready, and what the guard answered it."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from activities.guard import GuardHold, ResourceGuard
from orchestrator.db import make_engine

RaceAnswer = tuple[str, str, str]
"""(resource, racer's incident, "new" | "mine" | "held:<holder incident>")."""


def claim_all(
    url: str,
    incident: str,
    resources: list[str],
    start: Barrier,
    answers: Queue[RaceAnswer],
) -> None:
    engine = make_engine(url)
    guard = ResourceGuard(engine, 3600)
    try:
        for resource in resources:
            start.wait(timeout=60)
            got = guard.claim(resource, incident, "keys.revoke")
            if isinstance(got, GuardHold):
                answers.put((resource, incident, f"held:{got.incident_id}"))
            else:
                answers.put((resource, incident, "new" if got else "mine"))
    finally:
        engine.dispose()
