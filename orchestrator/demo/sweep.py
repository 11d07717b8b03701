"""The demo's fourth scene: a reseller's gateway sweep, caught by the real extraction detector.

Simulated gateway telemetry for one reseller key: a working day of ordinary traffic (a few
requests a minute, inputs often repeated), then a script that sweeps the model's input space
at two requests a second, every input new. It is replayed in process through
`DetectionEngine` with the extraction detector's default parameters (the other detectors are
switched off: they have nothing to look at here), and each detection becomes the alert
`firebreak detect` would post for it. Seeded and in simulated time, so every run raises the
same detection from the same few thousand events, in a fraction of a second.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.detection.alerts import alert_body
from orchestrator.detection.config import DetectionConfig
from orchestrator.detection.engine import DetectionEngine
from orchestrator.detection.models import Detection, TelemetryEvent
from orchestrator.domain import Environment

SEED = 20260114
START = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)  # simulated: the working day before the demo
CALLER = "globex-integration"
NETWORK = "198.18.7.0/24"
BASELINE_MINUTES = 8 * 60
SWEEP_MINUTES = 10
SWEEP_PER_SECOND = 2


def gateway_traffic(key: str, model: str) -> list[TelemetryEvent]:
    """The key's day at the gateway, then the sweep: time-ordered, the same on every call."""
    rng = random.Random(SEED)  # noqa: S311 - simulated traffic, not a secret
    asked: list[str] = []

    def request(at: datetime, digest: str) -> TelemetryEvent:
        return TelemetryEvent(
            at=at,
            caller=CALLER,
            api_key=key,
            network=NETWORK,
            agent="globex-pricing-sync",
            model=model,
            model_version="3",
            operation="predict",
            input_tokens=rng.randint(40, 90),
            output_tokens=rng.randint(5, 15),
            input_digest=digest,
            finish_reason="stop",
        )

    events = []
    for minute in range(BASELINE_MINUTES):
        for _ in range(rng.randint(1, 5)):
            at = START + timedelta(minutes=minute, seconds=rng.uniform(0, 60))
            if asked and rng.random() < 0.5:  # the same pricing questions, again and again
                digest = rng.choice(asked[-50:])
            else:
                digest = f"{rng.getrandbits(64):016x}"
                asked.append(digest)
            events.append(request(at, digest))
    events.sort(key=lambda e: e.at)
    sweep_start = START + timedelta(minutes=BASELINE_MINUTES)
    for n in range(SWEEP_MINUTES * 60 * SWEEP_PER_SECOND):
        at = sweep_start + timedelta(seconds=n / SWEEP_PER_SECOND)
        events.append(request(at, f"sweep-{n:06d}"))  # amounts 850.00, 850.05, ...: all new
    return events


def detect_sweep(key: str, model: str) -> list[Detection]:
    """What the extraction detector, with its default parameters, raises on that traffic."""
    off = {"enabled": False}
    config = DetectionConfig.model_validate({"leaked_key": off, "injection": off, "drift": off})
    engine = DetectionEngine(config)
    return [found for event in gateway_traffic(key, model) for found in engine.observe(event)]


def alert_for(detection: Detection, run_id: str) -> dict[str, Any]:
    """The alert `firebreak detect` raises for the detection, with the run id added to its id
    and fingerprint, as every demo alert has: a second run opens its own incident."""
    body = alert_body(detection, Environment.prod.value)
    return {
        **body,
        "id": f"{body['id']}-{run_id}",
        "fingerprint": f"{body['fingerprint']}/{run_id}",
    }
