"""Benchmark of Merkle proofs and auditor queries on a large PostgreSQL audit log.

Loads a valid log of --events events through the store (large appends), then measures, with a
primary-key single-row SELECT on `audit_events` as the baseline in the same run:

- the one-time build of the stored Merkle tree (the first proof on the log extends it from 0),
- inclusion-proof latency p50/p95 (`EventStore.inclusion_proof`, random events, the whole log),
- consistency-proof latency p50/p95 (random pairs of sizes),
- the incremental extension after 1,000 more events (the first proof at the new size),
- auditor query latency p50/p95 (`EventStore.query` by incident, type, actor, time range).

    .venv/bin/python bench/audit_proofs.py                   # 20,000 events (about a minute)
    .venv/bin/python bench/audit_proofs.py --events 1000000  # the issue's size (slow to load)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.audit_store import (  # noqa: E402 - needs ROOT on sys.path
    ACTORS,
    T0,
    TYPES,
    drop_database,
    event,
    machine,
    new_database,
)
from orchestrator.audit import EventStore, StreamAppend  # noqa: E402
from orchestrator.db import make_engine, upgrade  # noqa: E402

LOAD_BATCH = 2000
STREAMS = 1000


def load(store: EventStore, total: int, start: int = 0) -> float:
    """Append `total` events, `LOAD_BATCH` per transaction over 20 streams; events/s.

    Streams are named as `bench/audit_store.py`'s query mix expects (`incident-2-N`)."""
    rng = random.Random(2 + start)
    began = time.perf_counter()
    done = 0
    while done < total:
        batch = min(LOAD_BATCH, total - done)
        events = [event(rng, start + done + i) for i in range(batch)]
        per = batch // 20 or batch
        appends = [
            StreamAppend(f"incident-2-{rng.randrange(STREAMS)}", events[i : i + per])
            for i in range(0, batch, per)
        ]
        for outcome in store.append_many(appends):
            if not isinstance(outcome, list):
                raise outcome
        done += batch
        if done % 100_000 == 0:
            print(f"  loaded {done:,} events", file=sys.stderr, flush=True)
    return total / (time.perf_counter() - began)


def timed(call: Callable[[], Any], rounds: int) -> tuple[float, float]:
    """(p50, p95) in ms of `rounds` calls."""
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples), statistics.quantiles(samples, n=20)[18]


def audit_queries(
    store: EventStore, rounds: int, size: int, rng: random.Random
) -> dict[str, tuple[float, float]]:
    """(p50, p95) of `EventStore.query` per auditor filter, and over all of them.

    An incident's events from its start; a type and an actor from a random cursor; and one
    hour of events (about 1,800 here) from a random time, as an auditor narrows an incident
    down. (`bench/audit_store.py`'s mix draws the end of its range apart from its start, so
    half its ranges are empty and the others span half the log.)"""
    kinds: dict[str, Callable[[], Any]] = {
        "incident": lambda: store.query(stream=f"incident-2-{rng.randrange(STREAMS)}"),
        "type": lambda: store.query(types=[rng.choice(TYPES)], after_position=rng.randrange(size)),
        "actor": lambda: store.query(
            actor=rng.choice(ACTORS).id, after_position=rng.randrange(size)
        ),
        "one hour": lambda: store.query(
            since=(since := T0 + timedelta(seconds=rng.randrange(size * 2))),
            until=since + timedelta(hours=1),
        ),
    }
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    for n in range(rounds):
        name = list(kinds)[n % len(kinds)]
        began = time.perf_counter()
        kinds[name]()
        samples[name].append((time.perf_counter() - began) * 1000)
    everything = [value for values in samples.values() for value in values]
    return {
        name: (statistics.median(values), statistics.quantiles(values, n=20)[18])
        for name, values in [*samples.items(), ("all", everything)]
    }


def event_ids(engine: sa.Engine, positions: Sequence[int]) -> list[str]:
    query = sa.text("SELECT event_id FROM audit_events WHERE position = ANY(:p)")
    with engine.connect() as conn:
        return list(conn.execute(query, {"p": list(positions)}).scalars())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="log size (default 20,000)")
    parser.add_argument("--rounds", type=int, default=400, help="samples per latency figure")
    args = parser.parse_args(argv)
    command = " ".join([".venv/bin/python", "bench/audit_proofs.py", *sys.argv[1:]])
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        url = new_database("postgresql", Path(tmp))
        try:
            upgrade(url)
            engine = make_engine(url)
            store = EventStore(engine)
            print(f"loading {args.events:,} events ...", file=sys.stderr, flush=True)
            load_rate = load(store, args.events)
            size = store.head()[0]
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")

            pk = sa.text("SELECT * FROM audit_events WHERE position = :p")

            def pk_select() -> None:
                with engine.connect() as conn:
                    conn.execute(pk, {"p": rng.randint(1, size)}).one()

            baseline = timed(pk_select, args.rounds)

            [first_id] = event_ids(engine, [rng.randint(1, size)])
            began = time.perf_counter()
            store.inclusion_proof(first_id, size)
            build_s = time.perf_counter() - began

            ids = event_ids(engine, [rng.randint(1, size) for _ in range(args.rounds)])
            picks = iter(ids * 2)
            root = store.merkle_root(size)
            for event_id in ids[:20]:  # the proofs measured are proofs that verify
                store.inclusion_proof(event_id, size).verify(root)
            inclusion = timed(lambda: store.inclusion_proof(next(picks), size), len(ids))

            def consistency() -> None:
                old = rng.randint(1, size)
                store.consistency_proof(old, rng.randint(old, size))

            consistent = timed(consistency, args.rounds)
            queries = audit_queries(store, args.rounds, size, rng)

            load(store, 1000, start=size)
            began = time.perf_counter()
            store.inclusion_proof(ids[0], size + 1000)
            extend_ms = (time.perf_counter() - began) * 1000
            engine.dispose()
        finally:
            drop_database(url)

    print(f"command: {command}")
    print(f"machine: {machine()}")
    print(f"log: {args.events:,} events on PostgreSQL, loaded at {load_rate:,.0f} events/s")
    rows = [
        ("baseline: primary-key single-row SELECT", baseline),
        ("inclusion proof (EventStore.inclusion_proof)", inclusion),
        ("consistency proof (random pair of sizes)", consistent),
        ("audit query, all four filters", queries["all"]),
        *((f"audit query by {name}", queries[name]) for name in queries if name != "all"),
    ]
    print("| measure | p50 (ms) | p95 (ms) | p95 / baseline p95 |")
    print("| --- | --- | --- | --- |")
    for name, (p50, p95) in rows:
        print(f"| {name} | {p50:.2f} | {p95:.2f} | {p95 / baseline[1]:.1f}x |")
    print(f"one-time tree build over {size:,} events (first proof): {build_s:.1f} s")
    print(f"first proof after 1,000 more events (extends the tree): {extend_ms:.1f} ms")


if __name__ == "__main__":
    main()
