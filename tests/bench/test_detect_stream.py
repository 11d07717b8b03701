"""The detection benchmark's stream: the same seed gives the same stream, and its ground truth
says what the stream holds (every kind at every intensity, each attack's requests where it
says they are), so the bench's precision and recall are about the detectors, not the generator."""

from __future__ import annotations

import statistics
from collections import Counter

from bench.detect_stream import (
    DRIFT_SCORE_DROP,
    INTENSITIES,
    KINDS,
    Stream,
    StreamSpec,
    generate,
)

SPEC = StreamSpec(callers=120, days=5, seed=7, attacks=1, warmup_days=2.0)


def _fingerprint(stream: Stream) -> list[tuple[object, ...]]:
    return [(e.at, e.caller, e.network, e.input_digest, e.score) for e in stream.events]


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    first, second = generate(SPEC), generate(SPEC)
    assert first.events == second.events
    assert first.attacks == second.attacks
    other = generate(StreamSpec(**{**SPEC.__dict__, "seed": 8}))
    assert _fingerprint(other) != _fingerprint(first)


def test_every_kind_at_every_intensity_with_its_requests_in_its_window() -> None:
    stream = generate(SPEC)
    cells = Counter((a.kind, a.intensity) for a in stream.attacks)
    assert set(cells) == {(kind, i) for kind in KINDS for i in INTENSITIES}
    assert cells[("extraction", "high")] == 2  # a burst and a sweep
    ats = [e.at for e in stream.events]
    assert ats == sorted(ats)
    for attack in stream.attacks:
        assert attack.start >= stream.events[0].at
        assert attack.start < attack.end <= stream.events[-1].at + (attack.end - attack.start)
        if attack.kind == "drift":
            continue
        inside = [
            e
            for e in stream.events
            if attack.start <= e.at <= attack.end and attack.subject in (e.caller, e.api_key)
        ]
        assert len(inside) >= attack.events > 0, attack


def test_attacks_look_like_their_kind() -> None:
    stream = generate(SPEC)
    for attack in stream.attacks:
        own = [e for e in stream.events if attack.subject in (e.caller, e.api_key)]
        during = [e for e in own if attack.start <= e.at <= attack.end]
        before = [e for e in own if e.at < attack.start]
        if attack.kind == "leaked_key":
            usual = {e.network for e in before}
            assert sum(e.network not in usual for e in during) >= attack.events
        elif attack.kind == "injection":
            hits = [e for e in during if e.finding or e.marker]
            assert len(hits) >= attack.events
            assert any(e.marker and e.marker.startswith("canary:") for e in hits) == (
                attack.intensity == "high"
            )
        elif attack.kind == "extraction":
            digests = [e.input_digest for e in during]
            assert len(set(digests)) >= attack.events  # every injected input is new
        else:
            model = [e for e in stream.events if e.model == attack.subject and e.score is not None]
            old = [e.score for e in model if e.at < attack.start and e.score is not None]
            new = [e.score for e in model if e.at >= attack.start and e.score is not None]
            assert {e.model_version for e in model if e.at >= attack.start} == {"v2"}
            plan = next(m for m in stream.models if m.name == attack.subject)
            assert plan.score_drop == DRIFT_SCORE_DROP[attack.intensity]
            if attack.intensity != "low":  # a small stream scores too few requests to see 0.04
                assert statistics.mean(old) - statistics.mean(new) > 0.5 * plan.score_drop


def test_benign_patterns_are_present() -> None:
    stream = generate(StreamSpec(callers=400, days=5, seed=7, attacks=1, warmup_days=2.0))
    assert stream.benign["batch_jobs"] > 0
    assert stream.benign["retry_storm_errors"] > 0
    assert stream.benign["benign_deployments"] == 3
    # heavy-tailed: the busiest tenth of callers sends most of the traffic
    per_caller = sorted(Counter(e.caller for e in stream.events).values(), reverse=True)
    assert sum(per_caller[: len(per_caller) // 10]) > 0.4 * sum(per_caller)
