"""Behavioural detection over AI telemetry (`firebreak detect`): inputs map telemetry to
`TelemetryEvent`s, detectors keep baselines per caller, key and model, and detections are
posted to Firebreak's own webhook API as a signed source."""

from orchestrator.detection.config import DetectionConfig, load_config
from orchestrator.detection.engine import Baseline, DetectionEngine
from orchestrator.detection.models import Detection, TelemetryEvent

__all__ = [
    "Baseline",
    "Detection",
    "DetectionConfig",
    "DetectionEngine",
    "TelemetryEvent",
    "load_config",
]
