"""Constructed telemetry for the detector tests: a seeded benign population, and attacks.

Benign callers each have their own rate (log-normal across callers, so some are ten times
busier than others), a working day (most requests between 08:00 and 18:00 UTC, a few outside),
Poisson-distributed requests, token counts that vary per request, and mostly distinct inputs:
the variation a real population shows, which a detector must not alert on.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from orchestrator.detection.models import TelemetryEvent

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


def digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def benign(
    callers: int,
    days: float,
    *,
    seed: int = 7,
    per_hour: float = 6.0,
    start: datetime = START,
    model: str = "support-bot",
) -> list[TelemetryEvent]:
    """`callers` ordinary callers over `days`, time-ordered."""
    rng = random.Random(seed)
    events: list[TelemetryEvent] = []
    for c in range(callers):
        rate = per_hour * math.exp(rng.gauss(0, 0.8))
        network = f"10.{c % 200}.{c // 200}.0/24"
        hours = int(days * 24)
        for hour in range(hours):
            local = hour % 24
            weight = 1.0 if 8 <= local < 18 else 0.05
            for _ in range(poisson(rng, rate * weight)):
                at = start + timedelta(hours=hour, seconds=rng.uniform(0, 3600))
                events.append(
                    TelemetryEvent(
                        at=at,
                        caller=f"user-{c}",
                        api_key=f"key-{c}",
                        network=network,
                        model=model,
                        model_version="v1",
                        operation="chat",
                        input_tokens=int(rng.lognormvariate(5.5, 0.6)),
                        output_tokens=int(rng.lognormvariate(5.8, 0.6)),
                        input_digest=digest(c, rng.randrange(10**9)),
                        score=min(1.0, max(0.0, rng.gauss(0.8, 0.1))),
                        finish_reason="stop" if rng.random() > 0.02 else "length",
                        refused=rng.random() < 0.03,
                    )
                )
    events.sort(key=lambda e: e.at)
    return events


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's product of uniforms); above a mean of 50, where that takes
    about `mean` uniforms per draw, the normal approximation with that mean and variance."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def spaced(
    template: TelemetryEvent, start: datetime, count: int, every_seconds: float, **changes: object
) -> Iterator[TelemetryEvent]:
    """`count` copies of `template`, `every_seconds` apart from `start`, each a distinct input."""
    for i in range(count):
        yield replace(
            template,
            at=start + timedelta(seconds=i * every_seconds),
            input_digest=digest("sweep", template.caller, i),
            **changes,  # type: ignore[arg-type]
        )


def deployment(
    version: str,
    count: int,
    *,
    score: float,
    refusal: float,
    seed: int,
    offset_days: float,
    model: str = "support-bot",
) -> list[TelemetryEvent]:
    """`count` requests answered by `version` of `model`, 30 s apart from `offset_days` after
    START: evaluation scores around `score`, refusals at the rate `refusal`."""
    rng = random.Random(seed)
    base = benign(1, 1, seed=41)[0]
    return [
        replace(
            base,
            at=START + timedelta(days=offset_days, seconds=i * 30),
            caller=f"user-{rng.randrange(50)}",
            model=model,
            model_version=version,
            score=min(1.0, max(0.0, rng.gauss(score, 0.1))),
            refused=rng.random() < refusal,
            finish_reason="stop",
        )
        for i in range(count)
    ]


def merge(*streams: Iterator[TelemetryEvent] | list[TelemetryEvent]) -> list[TelemetryEvent]:
    merged = [event for stream in streams for event in stream]
    merged.sort(key=lambda e: e.at)
    return merged
