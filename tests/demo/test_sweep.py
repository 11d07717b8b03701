"""The demo's detector scene: the real extraction detector catches the simulated sweep, and
only the sweep, every time; what it raises is a valid generic alert of this run."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.alerts.formats.generic import GenericAlert
from orchestrator.demo.sweep import (
    BASELINE_MINUTES,
    START,
    alert_for,
    detect_sweep,
    gateway_traffic,
)
from orchestrator.detection.config import DetectionConfig
from orchestrator.detection.engine import DetectionEngine

KEY, MODEL = "key-reseller-globex", "fraud-detector"


def test_the_sweep_raises_one_extraction_detection_the_same_every_time() -> None:
    first, second = detect_sweep(KEY, MODEL), detect_sweep(KEY, MODEL)
    assert first == second
    (found,) = first
    assert found.detector == "extraction" and found.alert_type == "model_extraction"
    assert found.resources == {"api_key": KEY, "model": MODEL}
    assert found.at >= START + timedelta(minutes=BASELINE_MINUTES)  # during the sweep


def test_the_ordinary_day_alone_raises_nothing() -> None:
    sweep_start = START + timedelta(minutes=BASELINE_MINUTES)
    day = [e for e in gateway_traffic(KEY, MODEL) if e.at < sweep_start]
    assert len(day) > 1000
    engine = DetectionEngine(DetectionConfig())
    assert [d for e in day for d in engine.observe(e)] == []


def test_the_alert_is_a_generic_alert_of_this_run() -> None:
    (found,) = detect_sweep(KEY, MODEL)
    one, other = alert_for(found, "run1"), alert_for(found, "run2")
    parsed = GenericAlert.model_validate(one)
    assert parsed.type == "model_extraction" and parsed.resources.api_key == KEY
    assert parsed.fingerprint == f"{found.fingerprint}/run1"
    assert one["id"] != other["id"] and one["fingerprint"] != other["fingerprint"]
    assert found.explanation == parsed.description
