"""The detection engine: telemetry events in, detections out, baselines to persist.

`observe` is pure and in memory (no I/O per event): it converts the event's time once and
hands the event to every enabled detector. Persistence is the caller's business, at its own
pace: `flush()` returns the baselines changed since the last flush (the runner saves them
every few seconds and on stop), `snapshot()` returns them all.

An engine built with `evict=True` (the runner's, which has a store) keeps memory bounded over
weeks of traffic: at a flush, when at least a minute of event time and as many events as it
holds subjects have passed since the last sweep (so a sweep costs at most one check per event,
amortised), every detector drops the subjects idle for longer than its own `horizon` (capped
by `idle_cap_seconds`), after closing their windows; their final baselines are part of what
that flush returns. Idle is measured in event time, the latest `event.at` seen, so a replay of
last month's logs evicts as a live stream would. A returning subject gets its baseline back
from the store before its events are observed: the runner asks `absent(events)` for what is
not held and `load`s what the store has, one query per batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
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
SWEEP_SECONDS = 60.0  # of event time, at least, between two eviction sweeps
CLOCK_SKEW_SECONDS = 3600.0
"""How far past both the wall clock and the engine's clock an event's time may move the
engine's clock. One event stamped years ahead (a skewed clock, a hostile sender) would
otherwise make every subject idle at the next sweep. A stream that starts within the hour and
runs ahead of the wall clock (a simulation) still moves it, each event an hour at most past
the last; one that starts further ahead never does, so nothing of it is evicted."""


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
        self,
        config: DetectionConfig | None = None,
        baselines: Iterable[Baseline] = (),
        *,
        evict: bool = False,
    ) -> None:
        self.config = config or DetectionConfig()
        self.detectors = build_detectors(self.config)
        self._by_name = {detector.name: detector for detector in self.detectors}
        self.observed = 0
        self.evicts = evict
        self.evicted = 0
        self.clock = 0.0  # the latest plausible event time seen, epoch seconds
        self.idle = {
            d.name: min(d.horizon, float(self.config.idle_cap_seconds)) for d in self.detectors
        }
        self._swept_clock = -SWEEP_SECONDS
        self._swept_events = 0
        self.load(baselines)

    def describe(self, detector: str, state: State) -> str:
        """A stored baseline in one line (empty for a detector that is not enabled)."""
        found = self._by_name.get(detector)
        return found.describe(state) if found is not None else ""

    def load(self, baselines: Iterable[Baseline], *, missing: bool = False) -> int:
        """Take stored baselines (of detectors that are enabled; others are kept in the store
        untouched); with `missing`, only of subjects not held, so a baseline read while the
        subject's events were already being observed does not overwrite them. Returns how many
        were taken."""
        taken = 0
        for baseline in baselines:
            detector = self._by_name.get(baseline.detector)
            if detector is not None and not (missing and detector.holds(baseline.subject)):
                detector.restore(baseline.subject, baseline.state)
                taken += 1
        return taken

    def absent(self, events: Sequence[TelemetryEvent]) -> list[tuple[str, str]]:
        """`(detector, subject)` of the baselines these events would update that are not in
        memory: what to take back from the store before observing them."""
        found: set[tuple[str, str]] = set()
        for detector in self.detectors:
            name, wanted, holds = detector.name, detector.wanted, detector.holds
            for event in events:
                for subject in wanted(event):
                    if not holds(subject):
                        found.add((name, subject))
        return sorted(found)

    def held(self) -> dict[str, int]:
        """Subjects in memory, per detector."""
        return {detector.name: detector.held() for detector in self.detectors}

    def observe(self, event: TelemetryEvent) -> list[Detection]:
        """The detections this event completes (usually none)."""
        self.observed += 1
        t = event.at.timestamp()
        if t > self.clock and t <= max(self.clock, time.time()) + CLOCK_SKEW_SECONDS:
            self.clock = t
        found = []
        for detector in self.detectors:
            detection = detector.observe(event, t)
            if detection is not None:
                found.append(detection)
        return found

    def flush(self) -> list[Baseline]:
        """Baselines changed since the last flush, to be saved (with those of the subjects
        evicted now, if a sweep is due)."""
        evicted = self._sweep() if self.evicts else []
        return evicted + [
            Baseline(detector.name, subject, state)
            for detector in self.detectors
            for subject in sorted(detector.changed())
            if (state := detector.export(subject)) is not None
        ]

    def _sweep(self) -> list[Baseline]:
        """Evict idle subjects, if a sweep is due: its cost (a look at every subject held) is
        paid for by as many events, and by a minute of event time."""
        held = sum(detector.held() for detector in self.detectors)
        if (
            self.clock - self._swept_clock < SWEEP_SECONDS
            or self.observed - self._swept_events < held
        ):
            return []
        self._swept_clock, self._swept_events = self.clock, self.observed
        final: list[Baseline] = []
        for detector in self.detectors:
            final.extend(
                Baseline(detector.name, subject, state)
                for subject, state in detector.evict(self.clock, self.idle[detector.name])
            )
        self.evicted += held - sum(detector.held() for detector in self.detectors)
        return final

    def snapshot(self) -> list[Baseline]:
        """Every baseline the engine holds."""
        return [
            Baseline(detector.name, subject, state)
            for detector in self.detectors
            for subject in detector.subjects()
            if (state := detector.export(subject)) is not None
        ]
