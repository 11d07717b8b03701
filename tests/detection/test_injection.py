"""Injection campaigns: repeated findings by one caller, and canary tokens in outputs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from orchestrator.detection import DetectionEngine
from orchestrator.domain import Severity
from tests.detection.streams import START, benign, merge
from tests.detection.support import only, run


def _hits(caller: str, count: int, every: timedelta, **fields: object) -> list:
    base = benign(1, 1, seed=31)[0]
    return [
        replace(base, caller=caller, api_key=f"{caller}-key", at=START + i * every, **fields)  # type: ignore[arg-type]
        for i in range(count)
    ]


def test_repeated_findings_by_one_caller_are_a_campaign() -> None:
    hits = _hits("mallory", 5, timedelta(minutes=1), finding="prompt_injection")
    found = run(DetectionEngine(only("injection")), merge(benign(20, 1, seed=32), hits))
    assert len(found) == 1
    alert = found[0]
    assert alert.alert_type == "prompt_injection"
    assert alert.subject == "caller:mallory"
    assert alert.severity is Severity.high
    assert alert.resources["api_key"] == "mallory-key"
    assert alert.evidence["kinds"] == {"prompt_injection": 5}
    assert "5 times within 10 min" in alert.explanation


def test_the_same_findings_spread_over_callers_or_hours_are_not() -> None:
    spread = [
        e for i in range(5) for e in _hits(f"user-{i}", 1, timedelta(0), finding="prompt_injection")
    ]
    slow = _hits("patient", 8, timedelta(minutes=30), marker="ignore-previous")
    assert run(DetectionEngine(only("injection")), merge(spread, slow)) == []


def test_one_canary_token_in_an_output_is_critical() -> None:
    leak = _hits("curious", 1, timedelta(0), marker="canary:sys-prompt-7")
    found = run(DetectionEngine(only("injection")), leak)
    assert len(found) == 1
    assert found[0].severity is Severity.critical
    assert found[0].evidence["canary"] is True
    assert "system prompt" in found[0].explanation


def test_a_long_campaign_is_one_alert_per_cooldown() -> None:
    hits = _hits("mallory", 200, timedelta(seconds=20), finding="jailbreak")
    assert len(run(DetectionEngine(only("injection")), hits)) == 1
