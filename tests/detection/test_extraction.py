"""Extraction: bursts and low-and-slow sweeps are caught; a varied benign population is not."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import timedelta

from orchestrator.detection import DetectionEngine
from orchestrator.domain import Severity
from tests.detection.streams import START, benign, merge, spaced
from tests.detection.support import only, run

DAYS = 3


def test_a_benign_population_raises_nothing() -> None:
    events = benign(120, DAYS, seed=11)
    assert len(events) > 10_000  # a population with history, not a handful of requests
    found = run(DetectionEngine(only("extraction")), events)
    assert found == [], [d.explanation for d in found]


def test_a_burst_by_a_known_caller_is_one_alert_naming_its_key() -> None:
    history = benign(40, DAYS, seed=3)
    victim = next(e for e in history if e.caller == "user-5")
    attack_at = START + timedelta(days=DAYS, hours=10)
    burst = spaced(victim, attack_at, 900, 1.0)  # 15 minutes at one request a second
    found = run(DetectionEngine(only("extraction")), merge(history, burst))

    # the caller's and the key's windows cross on the same request: one alert, not two
    assert [d.subject for d in found] == ["caller:user-5"]
    caller = found[0]
    assert caller.alert_type == "model_extraction"
    assert caller.severity is Severity.high
    assert caller.resources == {"api_key": "key-5", "model": "support-bot"}
    assert "burst" in caller.title
    assert caller.evidence["window_seconds"] == 300
    assert caller.evidence["requests"] > caller.evidence["limit"] >= 60
    assert "median" in caller.explanation and "robust sd" in caller.explanation
    assert caller.fingerprint == "detect:extraction:caller:user-5"


def test_a_low_and_slow_sweep_under_the_burst_limit_is_caught_by_coverage() -> None:
    history = benign(40, DAYS, seed=5)
    victim = next(e for e in history if e.caller == "user-9")
    attack_at = START + timedelta(days=DAYS, hours=9)
    # one request every 12 s: 25 per 5 minutes (under every burst floor), 300 an hour
    sweep = list(spaced(victim, attack_at, 1200, 12.0))
    engine = DetectionEngine(only("extraction", per_key=False))
    found = run(engine, merge(history, sweep))

    assert len(found) == 1
    assert found[0].subject == "caller:user-9"
    assert "sustained sweep" in found[0].title
    assert found[0].evidence["window_seconds"] == 3600


def test_a_new_caller_that_starts_extracting_at_once_meets_the_warm_up_limit() -> None:
    template = benign(1, 1, seed=1)[0]
    newcomer = replace(template, caller="fresh", api_key="fresh-key")
    found = run(DetectionEngine(only("extraction")), spaced(newcomer, START, 2000, 0.5))
    assert [d.subject for d in found] == ["caller:fresh"]
    assert "before any baseline" in found[0].explanation


def test_a_busy_but_steady_caller_is_its_own_baseline() -> None:
    # 50 requests per 5 minutes, every working hour for three days: heavy, but normal for it
    template = benign(1, 1, seed=2)[0]
    steady = replace(template, caller="batch-job", api_key="batch-key")
    days = [
        spaced(steady, START + timedelta(days=d, hours=8), 6000, 6.0)  # 10 h at 10/min
        for d in range(DAYS)
    ]
    found = run(DetectionEngine(only("extraction")), merge(*days))
    warm_up = [d for d in found if "before any baseline" not in d.explanation]
    assert warm_up == []


def test_an_attack_does_not_teach_the_baseline_that_it_is_normal() -> None:
    history = benign(20, DAYS, seed=9)
    victim = next(e for e in history if e.caller == "user-2")
    first = spaced(victim, START + timedelta(days=DAYS, hours=10), 600, 1.0)
    second = spaced(victim, START + timedelta(days=DAYS, hours=14), 600, 1.0)
    engine = DetectionEngine(only("extraction", per_key=False, cooldown_seconds=3600))
    found = run(engine, merge(history, first, second))
    assert [d.subject for d in found] == ["caller:user-2", "caller:user-2"]
    stored = next(b for b in engine.snapshot() if b.subject == "caller:user-2")
    busiest = max(math.expm1(row[0]) for rows in stored.state["windows"].values() for row in rows)
    assert busiest < 100  # the 600-request windows were kept out of the history


def test_events_a_little_out_of_order_are_judged_alike() -> None:
    # two gateways' logs merged: each event up to a minute late
    rng = random.Random(4)
    history = benign(40, DAYS, seed=3)
    victim = next(e for e in history if e.caller == "user-5")
    burst = list(spaced(victim, START + timedelta(days=DAYS, hours=10), 900, 1.0))
    stream = merge(history, burst)
    jittered = sorted(stream, key=lambda e: e.at + timedelta(seconds=rng.uniform(0, 60)))
    assert jittered != stream
    found = run(DetectionEngine(only("extraction")), jittered)
    assert [d.subject for d in found] == ["caller:user-5"]
