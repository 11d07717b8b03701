"""Bounded memory: idle subjects leave memory in event time, their baselines stay in the store
and come back when they return; the leaked-key detector saves only the keys that changed."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator import db
from orchestrator.detection import DetectionEngine
from orchestrator.detection.alerts import DryRunSender
from orchestrator.detection.config import DetectionConfig, load_config
from orchestrator.detection.engine import Baseline
from orchestrator.detection.models import Detection, TelemetryEvent
from orchestrator.detection.runner import DetectRunner
from orchestrator.detection.store import BaselineStore
from orchestrator.errors import ConfigError
from orchestrator.telemetry.instruments import process_registry
from tests.detection.streams import START, benign, digest, merge, spaced
from tests.detection.support import only, run

# years before the test runs: an engine idling by the wall clock would evict everything at once
LONG_AGO = datetime(2021, 3, 1, tzinfo=UTC)


def at(seconds: float, caller: str, **changes: object) -> TelemetryEvent:
    event = TelemetryEvent(
        at=LONG_AGO + timedelta(seconds=seconds),
        caller=caller,
        api_key=f"key-{caller}",
        network="10.0.0.0/24",
        model="support-bot",
        model_version="v1",
        input_tokens=100,
        output_tokens=100,
        input_digest=digest(caller, seconds),
    )
    return replace(event, **changes)  # type: ignore[arg-type]


def store_for(db_url: str) -> BaselineStore:
    db.upgrade(db_url)
    return BaselineStore(db.make_engine(db_url))


async def feed(
    runner: DetectRunner, events: Sequence[TelemetryEvent], *, batch: int = 200, save: int = 2000
) -> list[Detection]:
    """The events as the runner takes them from an input: in batches, with a save every
    `save` events (the runner's timer, made deterministic)."""
    sender = runner.sender
    assert isinstance(sender, DryRunSender)
    for start in range(0, len(events), batch):
        await runner.handle(events[start : start + batch])
        if (start // batch + 1) % max(1, save // batch) == 0:
            await runner.save()
    await runner.save()
    found = []
    while not runner._queue.empty():
        detection = runner._queue.get_nowait()
        assert detection is not None
        found.append(detection)
    return found


def test_a_subject_is_evicted_once_idle_longer_than_its_detectors_windows_in_event_time() -> None:
    engine = DetectionEngine(evict=True)
    assert engine.idle == {
        "extraction": 86_400,  # its daily window
        "leaked_key": 3600,  # the window its unfamiliar requests are counted in
        "injection": 3600,
        "drift": 7 * 86_400,  # running totals only: the configured cap
    }
    for i in range(30):
        engine.observe(at(i * 60, "alice"))
    assert engine.flush() != []
    # an hour and more later, by the events' clock: alice's key has nothing left to hold
    filler = [at(3600 + 1800 + i, f"filler-{i % 40}") for i in range(200)]
    for event in filler:
        engine.observe(event)
    saved = engine.flush()
    assert not engine.detectors[1].holds("key-alice")
    assert engine.detectors[0].holds("caller:alice")  # its hourly and daily windows are open
    assert not [b for b in saved if b.subject == "key-alice"]  # unchanged since the last flush

    # past the longest window: alice's windows close into her history, saved as she leaves
    later = [at(86_400 + 3600 + i, f"late-{i % 20}", api_key=None) for i in range(200)]
    for event in later:
        engine.observe(event)
    saved = engine.flush()
    assert not engine.detectors[0].holds("caller:alice")
    (history,) = [b.state for b in saved if b.subject == "caller:alice"]
    assert len(history["windows"]["300"]) == 6  # 30 requests over 30 minutes: six bursts
    assert len(history["windows"]["3600"]) == 1
    assert len(history["windows"]["86400"]) == 1
    # alice's key (leaked_key, then extraction) and caller, the fillers' keys: their callers'
    # windows are still open
    assert engine.evicted == 1 + 2 + 40
    assert engine.detectors[3].holds("support-bot")  # a model stays until the cap


def test_one_event_stamped_years_ahead_does_not_move_the_clock_that_evicts() -> None:
    engine = DetectionEngine(evict=True)
    for i in range(300):
        engine.observe(at(i, f"caller-{i % 30}"))
    clock = engine.clock
    engine.observe(replace(at(300, "skewed"), at=datetime(2100, 1, 1, tzinfo=UTC)))
    for i in range(301, 600):
        engine.observe(at(i, f"caller-{i % 30}"))
    engine.flush()
    assert engine.clock == clock + 599 - 299  # the stream's own time, not the year 2100
    assert engine.evicted == 0
    assert all(engine.detectors[0].holds(f"caller:caller-{n}") for n in range(30))


def test_a_stream_running_ahead_of_the_wall_clock_still_moves_it() -> None:
    """A simulation that starts now and runs ahead of the wall clock advances the clock, each
    event within the allowance of the clock the one before it set."""
    engine = DetectionEngine(evict=True)
    ahead = datetime.now(UTC) + timedelta(minutes=30)
    for i in range(100):
        engine.observe(replace(at(0, f"c-{i}"), at=ahead + timedelta(minutes=10 * i)))
    assert engine.clock == (ahead + timedelta(minutes=990)).timestamp()


def test_a_sweep_is_paid_for_by_as_many_events_and_a_minute_of_event_time() -> None:
    engine = DetectionEngine(only("leaked_key", window_seconds=10), evict=True)
    for i in range(100):
        engine.observe(at(i / 20, f"caller-{i}"))
    engine.flush()  # the first sweep: nothing idle yet
    engine.observe(at(1000, "bob"))  # everyone else is idle now
    engine.flush()
    # one event since the sweep does not pay for looking at 101 subjects
    assert engine.held() == {"leaked_key": 101}
    for i in range(100):
        engine.observe(at(1000 + i / 100, "bob"))
    engine.flush()
    assert engine.held() == {"leaked_key": 1}
    # a hundred keys seen once, then idle, but within a minute of the sweep: not yet
    for i in range(100):
        engine.observe(at(1001, f"caller-{i}"))
    for i in range(300):
        engine.observe(at(1030 + i / 100, "bob"))
    engine.flush()
    assert engine.held() == {"leaked_key": 101}
    engine.observe(at(1061, "bob"))
    engine.flush()
    assert engine.held() == {"leaked_key": 1}


def test_the_cap_shortens_every_horizon_and_is_checked() -> None:
    engine = DetectionEngine(DetectionConfig(idle_cap_seconds=600), evict=True)
    assert set(engine.idle.values()) == {600}
    engine.observe(at(0, "carol"))
    engine.flush()
    for i in range(10):
        engine.observe(at(1000 + i, "dave", model="other-bot"))
    engine.flush()
    held = {d.name: d.subjects() for d in engine.detectors}
    assert held["extraction"] == ["caller:dave", "key:key-dave"]
    assert held["drift"] == ["other-bot"]


def test_a_cap_below_a_minute_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "detect.yaml"
    path.write_text("idle_cap_seconds: 5\n")
    with pytest.raises(ConfigError, match="idle_cap_seconds: Input should be greater"):
        load_config(path)


async def test_memory_stays_bounded_over_weeks_of_churning_callers(db_url: str) -> None:
    """Sixty days, 40 new callers a day, each active for a day or two then gone for good (and
    a few regulars throughout): without eviction the engine would hold every caller ever
    seen; with it, only those of the last day or so."""
    rng = random.Random(7)
    events = []
    for day in range(60):
        for n in range(40):
            caller = f"d{day}-c{n}"
            active = rng.uniform(3600, 2 * 86_400)
            for _ in range(rng.randrange(5, 40)):
                events.append(at(day * 86_400 + rng.uniform(0, active), caller))
        for regular in range(5):
            events.extend(at(day * 86_400 + h * 3600, f"regular-{regular}") for h in range(24))
    events.sort(key=lambda e: e.at)
    runner = DetectRunner(DetectionEngine(evict=True), DryRunSender("prod"), store_for(db_url))
    peak: dict[str, int] = {}
    for start in range(0, len(events), 5000):
        await feed(runner, events[start : start + 5000])
        for name, count in runner.engine.held().items():
            peak[name] = max(peak.get(name, 0), count)
    callers = {e.caller for e in events}
    assert len(callers) == 60 * 40 + 5
    # caller and key per caller, each kept a day past its last event: at most ~4 days' worth
    assert peak["extraction"] < 2 * 4 * 40 + 2 * 5
    assert peak["leaked_key"] < 3 * 40 + 5  # keys last an hour past their last request
    assert runner.engine.held()["extraction"] < 2 * 4 * 40 + 2 * 5
    assert runner.stats.subjects == sum(runner.engine.held().values())
    assert runner.stats.evicted > 2 * 50 * 40
    # every caller's baseline is in the store, whether or not it is still held
    stored = {r["subject"] for r in runner.store.rows("extraction")} if runner.store else set()
    assert {f"caller:{c}" for c in callers} <= stored
    registry = process_registry()
    for name, count in runner.engine.held().items():
        assert registry.get_sample_value("firebreak_detect_subjects", {"detector": name}) == count


async def test_a_returning_caller_is_judged_on_the_baseline_it_learned_before_eviction(
    db_url: str,
) -> None:
    history = benign(20, 3, seed=3)
    victim = next(e for e in history if e.caller == "user-5")
    # a week of other traffic: user-5 is idle far past every horizon and is evicted
    quiet = [replace(e, caller="other", api_key="key-other") for e in benign(1, 10, seed=4)]
    quiet = [replace(e, at=e.at + timedelta(days=3)) for e in quiet]
    back = START + timedelta(days=13, hours=10)
    # 150 requests in 5 minutes: past user-5's own baseline, under a new caller's warm-up limit
    burst = list(spaced(victim, back, 150, 2.0))
    runner = DetectRunner(DetectionEngine(evict=True), DryRunSender("prod"), store_for(db_url))
    assert await feed(runner, merge(history, quiet)) == []
    extraction, leaked_key = runner.engine.detectors[:2]
    assert not extraction.holds("caller:user-5") and not leaked_key.holds("key-5")
    reloaded = runner.stats.reloaded

    found = await feed(runner, burst)
    assert runner.stats.reloaded == reloaded + 3  # its caller, key and leaked-key baselines
    assert [(d.detector, d.subject) for d in found] == [("extraction", "caller:user-5")]
    assert found[0].evidence["history_windows"] >= 6  # judged on its history, not the warm-up
    # the same burst to an engine that never saw user-5 is under the warm-up limits
    assert run(DetectionEngine(), burst) == []


class GatedStore(BaselineStore):
    """A store whose writes wait for `gate` (a save still being written by its thread) and
    whose reads wait for `reads` (a lookup still in flight)."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__(engine)
        self.gate = threading.Event()
        self.reads = threading.Event()
        self.reads.set()

    def save(self, changed: Iterable[Baseline]) -> int:
        assert self.gate.wait(30)
        return super().save(changed)

    def find(self, wanted: Iterable[tuple[str, str]]) -> list[Baseline]:
        assert self.reads.wait(30)
        return super().find(wanted)


async def test_a_subject_evicted_while_its_save_is_being_written_comes_back_whole(
    db_url: str,
) -> None:
    db.upgrade(db_url)
    store = GatedStore(db.make_engine(db_url))
    runner = DetectRunner(DetectionEngine(evict=True), DryRunSender("prod"), store)
    await runner.handle([at(i * 60, "alice") for i in range(30)])
    await runner.handle([at(90_000 + i, f"late-{i % 20}", api_key=None) for i in range(200)])
    saving = asyncio.create_task(runner.save())  # evicts alice; her rows wait for the gate
    await asyncio.sleep(0.2)
    extraction = runner.engine.detectors[0]
    assert not extraction.holds("caller:alice")
    assert store.find([("extraction", "caller:alice")]) == []  # not written yet

    await runner.handle([at(90_100, "alice")])
    state = extraction.export("caller:alice")
    assert state is not None and len(state["windows"]["300"]) == 6
    store.gate.set()
    await saving
    (stored,) = store.find([("extraction", "caller:alice")])
    assert len(stored.state["windows"]["300"]) == 6


async def test_a_save_waits_for_a_batch_whose_lookup_is_in_flight(db_url: str) -> None:
    db.upgrade(db_url)
    store = GatedStore(db.make_engine(db_url))
    store.gate.set()
    runner = DetectRunner(DetectionEngine(evict=True), DryRunSender("prod"), store)
    await runner.handle([at(i * 60, "alice") for i in range(30)])
    await runner.handle([at(90_000 + i, f"late-{i % 20}", api_key=None) for i in range(200)])
    # alice is idle now; her next batch also names a new caller, whose lookup hangs
    store.reads.clear()
    handling = asyncio.create_task(runner.handle([at(90_100, "alice"), at(90_100, "zed")]))
    await asyncio.sleep(0.1)
    saving = asyncio.create_task(runner.save())
    await asyncio.sleep(0.2)
    assert not saving.done()  # the sweep would evict alice under the batch's feet
    store.reads.set()
    await handling
    await saving
    extraction = runner.engine.detectors[0]
    state = extraction.export("caller:alice")
    assert state is not None and len(state["windows"]["300"]) == 6  # her history, not anew
    assert extraction.holds("caller:zed")


def test_the_leaked_key_detector_returns_only_the_keys_that_changed() -> None:
    engine = DetectionEngine(only("leaked_key"))
    history = benign(10, 2, seed=8)
    run(engine, history)
    assert sorted(b.subject for b in engine.flush()) == [f"key-{c}" for c in range(10)]
    assert engine.flush() == []
    later = history[-1].at + timedelta(minutes=1)
    three = [e for e in history if e.api_key == "key-3"][-5:]
    run(engine, [replace(e, at=later) for e in three])
    (changed,) = engine.flush()
    assert changed.subject == "key-3"
    assert changed.state["events"] == sum(e.api_key == "key-3" for e in history) + 5
    # a restored key is not a changed one
    restored = DetectionEngine(only("leaked_key"), engine.snapshot())
    assert restored.flush() == []


def test_an_evicting_engine_needs_a_store() -> None:
    with pytest.raises(ValueError, match="needs a store"):
        DetectRunner(DetectionEngine(evict=True), DryRunSender("prod"))
