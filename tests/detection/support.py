"""Running constructed streams through the engine, one detector at a time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orchestrator.detection import DetectionConfig, DetectionEngine
from orchestrator.detection.models import Detection, TelemetryEvent

NAMES = ("extraction", "leaked_key", "injection", "drift")


def only(name: str, **params: Any) -> DetectionConfig:
    """The configuration with one detector enabled (and `params` for it)."""
    sections: dict[str, Any] = {n: {"enabled": n == name} for n in NAMES}
    sections[name].update(params)
    return DetectionConfig.model_validate(sections)


def run(engine: DetectionEngine, events: Iterable[TelemetryEvent]) -> list[Detection]:
    found: list[Detection] = []
    for event in events:
        found.extend(engine.observe(event))
    return found
