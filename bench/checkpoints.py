"""Benchmark of signed checkpoints: what one costs, and that appends do not wait for them.

On a log of --events events (loaded through the store), for each backend:

- checkpoint latency p50/p95 (`EventStore.checkpoint`: head read, Merkle root from the stored
  tree extended by the events since the last one, Ed25519 note, one INSERT), with 100 new
  events between checkpoints, as a schedule on a busy ledger sees it;
- single-event appends per second for --seconds with nothing else running (the baseline), then
  for --seconds while another thread checkpoints every --every seconds (default 1 s, 300 times
  the default schedule; 0 = back to back, a stress): the ratio says what checkpoints cost the
  appends (they share the process's GIL and the machine's cores; SQLite also has one writer).

    .venv/bin/python bench/checkpoints.py                      # 20,000 events, both backends
    .venv/bin/python bench/checkpoints.py --backends sqlite --events 100000
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.audit_proofs import load  # noqa: E402 - needs ROOT on sys.path
from bench.audit_store import drop_database, event, machine, new_database  # noqa: E402
from orchestrator.audit import CheckpointSigner, EventStore  # noqa: E402
from orchestrator.db import make_engine, upgrade  # noqa: E402


def checkpoint_latency(store: EventStore, rounds: int, rng: random.Random) -> tuple[float, float]:
    times = []
    for n in range(rounds):
        for i in range(100):
            store.append(f"bench-{n}", [event(rng, 10_000_000 + n * 100 + i)])
        began = time.perf_counter()
        store.checkpoint()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def append_rate(store: EventStore, seconds: float, rng: random.Random, tag: str) -> float:
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        store.append(f"rate-{tag}-{done % 50}", [event(rng, 20_000_000 + done)])
        done += 1
    return done / (time.perf_counter() - began)


def run(backend: str, events: int, seconds: float, every: float, workdir: Path) -> None:
    url = new_database(backend, workdir)
    try:
        upgrade(url)
        engine = make_engine(url)
        store = EventStore(engine, signer=CheckpointSigner(workdir / f"{backend}.pem"))
        load(store, events)
        store.checkpoint()  # the first builds the stored tree over the whole log, once
        rng = random.Random(7)
        p50, p95 = checkpoint_latency(store, 30, rng)
        alone = append_rate(store, seconds, rng, "alone")
        stop = threading.Event()
        made = [0]

        def checkpointing() -> None:
            while not stop.is_set():
                store.checkpoint()
                made[0] += 1
                stop.wait(every)

        thread = threading.Thread(target=checkpointing)
        thread.start()
        try:
            beside = append_rate(store, seconds, rng, "beside")
        finally:
            stop.set()
            thread.join()
        ok = store.verify().ok
        engine.dispose()
        print(
            f"| {backend} | {events:,} | {p50:.1f} / {p95:.1f} | {alone:,.0f} | {beside:,.0f}"
            f" ({made[0]} checkpoints) | {beside / alone:.2f} | {'intact' if ok else 'BROKEN'} |"
        )
    finally:
        drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between checkpoints")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"command: .venv/bin/python bench/checkpoints.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        "| backend | log | checkpoint p50 / p95 (ms) | appends/s alone (baseline)"
        " | appends/s beside checkpoints | ratio | verify |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            run(backend, args.events, args.seconds, args.every, Path(tmp))


if __name__ == "__main__":
    main()
