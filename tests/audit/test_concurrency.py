"""Several writer processes append at once while a reader tails by position: it never skips.

A reader that has seen position N must never later find an event below N; with positions from
a plain sequence, a slow transaction commits a lower position after a faster one and the
reader, already past it, misses it. The store serialises appends so this cannot happen.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import sqlalchemy as sa

from orchestrator.audit import EventStore
from tests.audit.writers import write

WRITERS = 4
BATCHES = 60


def test_tailing_reader_never_skips_with_concurrent_writer_processes(
    db_url: str, engine: sa.Engine
) -> None:
    store = EventStore(engine)
    seen = 0
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(WRITERS, mp_context=context) as pool:
        start = manager.Barrier(WRITERS)
        futures = [pool.submit(write, db_url, w, BATCHES, start) for w in range(WRITERS)]
        while not all(f.done() for f in futures):
            for event in store.read_all(after_position=seen, batch_size=50):
                assert event.position == seen + 1, f"reader skipped from {seen} to {event.position}"
                seen = event.position
            time.sleep(0.005)
        results = [f.result() for f in futures]
    for event in store.read_all(after_position=seen):
        assert event.position == seen + 1
        seen = event.position
    written = sum(w for w, _ in results)
    assert seen == written == store.head()[0]
    assert sum(r for _, r in results) > 0, "the shared stream never saw a version race"
    shared = store.read_stream("shared")
    assert [e.version for e in shared] == list(range(1, len(shared) + 1))
    report = store.verify()
    assert report.ok, report.problem
