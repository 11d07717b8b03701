"""The detection engine: telemetry events in, detections out, baselines to persist.

`observe` is pure and in memory (no I/O per event): it converts the event's time once and
hands the event to every enabled detector. Persistence is the caller's business, at its own
pace: `flush()` returns the baselines changed since the last flush (the runner saves them
every few seconds and on stop), `snapshot()` returns them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.detection.config import DetectionConfig
from orchestrator.detection.detectors.base import Detector, State
from orchestrator.detection.detectors.drift import DriftDetector
from orchestrator.detection.detectors.extraction import ExtractionDetector
from orchestrator.detection.detectors.injection import InjectionDetector
from orchestrator.detection.detectors.leaked_key import LeakedKeyDetector
from orchestrator.detection.models import Detection, TelemetryEvent


@dataclass(frozen=True, slots=True)
class Baseline:
    """One detector's learned state for one subject, as stored in `detector_baselines`."""

    detector: str
    subject: str
    state: State


DETECTOR_NAMES = ("extraction", "leaked_key", "injection", "drift")


def build_detectors(config: DetectionConfig) -> list[Detector]:
    """The enabled detectors, in a fixed order."""
    detectors: list[Detector] = []
    if config.extraction.enabled:
        detectors.append(ExtractionDetector(config.extraction))
    if config.leaked_key.enabled:
        detectors.append(LeakedKeyDetector(config.leaked_key))
    if config.injection.enabled:
        detectors.append(InjectionDetector(config.injection))
    if config.drift.enabled:
        detectors.append(DriftDetector(config.drift))
    return detectors


class DetectionEngine:
    """Every enabled detector over one stream of events."""

    def __init__(
        self, config: DetectionConfig | None = None, baselines: Iterable[Baseline] = ()
    ) -> None:
        self.config = config or DetectionConfig()
        self.detectors = build_detectors(self.config)
        self._by_name = {detector.name: detector for detector in self.detectors}
        self.observed = 0
        self.load(baselines)

    def describe(self, detector: str, state: State) -> str:
        """A stored baseline in one line (empty for a detector that is not enabled)."""
        found = self._by_name.get(detector)
        return found.describe(state) if found is not None else ""

    def load(self, baselines: Iterable[Baseline]) -> None:
        """Take stored baselines (of detectors that are enabled; others are kept in the store
        untouched)."""
        for baseline in baselines:
            detector = self._by_name.get(baseline.detector)
            if detector is not None:
                detector.restore(baseline.subject, baseline.state)

    def observe(self, event: TelemetryEvent) -> list[Detection]:
        """The detections this event completes (usually none)."""
        self.observed += 1
        t = event.at.timestamp()
        found = []
        for detector in self.detectors:
            detection = detector.observe(event, t)
            if detection is not None:
                found.append(detection)
        return found

    def flush(self) -> list[Baseline]:
        """Baselines changed since the last flush, to be saved."""
        return [
            Baseline(detector.name, subject, state)
            for detector in self.detectors
            for subject in sorted(detector.changed())
            if (state := detector.export(subject)) is not None
        ]

    def snapshot(self) -> list[Baseline]:
        """Every baseline the engine holds."""
        return [
            Baseline(detector.name, subject, state)
            for detector in self.detectors
            for subject in detector.subjects()
            if (state := detector.export(subject)) is not None
        ]
