"""Baselines survive a restart and are shared through the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from orchestrator import db
from orchestrator.detection import DetectionEngine
from orchestrator.detection.store import BaselineStore
from tests.detection.streams import START, benign, spaced
from tests.detection.support import run

DAYS = 4


def test_a_restarted_engine_keeps_what_it_learned(db_url: str) -> None:
    db.upgrade(db_url)
    store = BaselineStore(db.make_engine(db_url))
    history = benign(15, DAYS, seed=51)
    first = DetectionEngine()
    assert run(first, history) == []
    saved = store.save(first.flush())
    assert saved == len(first.snapshot()) > 15
    assert first.flush() == []  # nothing changed since

    # a new process (or another replica) loads the same baselines and judges alike
    second = DetectionEngine(baselines=store.load())
    assert sorted(b.subject for b in second.snapshot()) == sorted(
        b.subject for b in first.snapshot()
    )
    victim = max(history, key=lambda e: sum(1 for h in history if h.api_key == e.api_key))
    thief = list(
        spaced(victim, START + timedelta(days=DAYS, hours=10), 10, 30.0, network="192.0.2.0/24")
    )
    assert [d.detector for d in run(second, thief)] == ["leaked_key"]

    # an engine without the baselines has nothing to compare with: the key is new to it
    assert run(DetectionEngine(), [replace(e) for e in thief]) == []


def test_saving_again_updates_the_row_last_writer_wins(db_url: str) -> None:
    db.upgrade(db_url)
    store = BaselineStore(db.make_engine(db_url))
    engine = DetectionEngine()
    events = benign(2, 2, seed=52)
    half = len(events) // 2
    run(engine, events[:half])
    store.save(engine.flush())
    before = {(r["detector"], r["subject"]): r["state"] for r in store.rows()}
    run(engine, events[half:])
    store.save(engine.flush())
    after = {(r["detector"], r["subject"]): r["state"] for r in store.rows()}
    assert before.keys() <= after.keys()
    key = ("leaked_key", "key-0")
    assert after[key]["events"] > before[key]["events"]
    assert [r["subject"] for r in store.rows("drift")] == ["support-bot"]
