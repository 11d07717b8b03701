"""Output drift: a new model version scoring, refusing or finishing unlike its predecessors."""

from __future__ import annotations

from orchestrator.detection import DetectionEngine
from tests.detection.streams import benign, deployment
from tests.detection.support import only, run


def test_a_worse_new_version_is_caught_after_enough_samples() -> None:
    before = deployment("v1", 2000, score=0.80, refusal=0.03, seed=1, offset_days=0)
    after = deployment("v2", 1000, score=0.70, refusal=0.03, seed=2, offset_days=1)
    found = run(DetectionEngine(only("drift")), before + after)
    assert len(found) == 1
    alert = found[0]
    assert alert.alert_type == "model_drift"
    assert alert.subject == "model:support-bot@v2"
    assert alert.resources == {"model": "support-bot", "model_version": "v2"}
    assert alert.evidence["samples"] >= 200
    assert alert.evidence["baseline_score_mean"] > alert.evidence["score_mean"]
    assert "mean evaluation score" in alert.explanation


def test_a_refusal_surge_is_caught() -> None:
    before = deployment("v1", 2000, score=0.8, refusal=0.02, seed=3, offset_days=0)
    after = deployment("v2", 1000, score=0.8, refusal=0.15, seed=4, offset_days=1)
    found = run(DetectionEngine(only("drift")), before + after)
    assert [d.subject for d in found] == ["model:support-bot@v2"]
    assert "refusal rate" in found[0].explanation


def test_a_new_version_like_the_old_one_is_not_drift() -> None:
    before = deployment("v1", 2000, score=0.8, refusal=0.03, seed=5, offset_days=0)
    after = deployment("v2", 3000, score=0.8, refusal=0.03, seed=6, offset_days=1)
    canary = deployment("v3", 500, score=0.79, refusal=0.035, seed=7, offset_days=2)
    assert run(DetectionEngine(only("drift")), before + after + canary) == []


def test_a_first_version_has_no_baseline_to_drift_from() -> None:
    events = benign(20, 2, seed=42)
    assert run(DetectionEngine(only("drift")), events) == []
