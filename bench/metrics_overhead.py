"""What the in-process metrics cost, in one run: the timing `EventStore.append` adds (one clock
pair and a histogram observe, measured alone over many iterations) beside an untimed append
(`EventStore._append`, 1 event, SQLite file: the embedded default), and a provider call
through the `Measured` proxy beside the same call made directly. The provider is a trivial
async method, so that figure is the proxy's whole cost; the machine's noise on an append is
larger than the timing itself, which is why it is measured alone.

    .venv/bin/python bench/metrics_overhead.py [--appends 3000] [--calls 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

from activities.measured import measure  # noqa: E402 - needs ROOT on sys.path
from orchestrator import db  # noqa: E402
from orchestrator.audit import EventStore  # noqa: E402
from orchestrator.domain import Actor, NewEvent  # noqa: E402
from orchestrator.telemetry.instruments import timed_append  # noqa: E402

ROUNDS = 10


def event() -> NewEvent:
    return NewEvent(
        id=str(uuid.uuid4()),
        type="NotificationSent",
        actor=Actor.system(),
        occurred_at=datetime.now(UTC),
    )


def appends(store: EventStore, count: int) -> float:
    """Median µs per untimed append over the rounds."""
    figures = []
    per_round = max(1, count // ROUNDS)
    for index in range(ROUNDS):
        start = time.perf_counter()
        for n in range(per_round):
            store._append(f"bench-{index}-{n % 50}", [event()])
        figures.append((time.perf_counter() - start) / per_round * 1e6)
    return statistics.median(figures)


def wrapper(count: int) -> float:
    """µs the timing adds to one append: the clock pair and the observe, alone."""
    start = time.perf_counter()
    for _ in range(count):
        with timed_append():
            pass
    return (time.perf_counter() - start) / count * 1e6


class Trivial:
    async def usage(self, key_id: str) -> str:
        return key_id


async def calls(count: int) -> tuple[float, float]:
    """µs per call: (through the proxy, direct)."""
    direct = Trivial()
    proxied = measure(direct, provider="bench", capability="keys")
    figures = []
    for target in (proxied, direct, proxied, direct):
        start = time.perf_counter()
        for _ in range(count):
            await target.usage("k")
        figures.append((time.perf_counter() - start) / count * 1e6)
    return min(figures[0], figures[2]), min(figures[1], figures[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=3000)
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        db.upgrade(url)
        engine = db.make_engine(url)
        untimed = appends(EventStore(engine), args.appends)
        engine.dispose()
    added = wrapper(args.calls)
    print(
        f"ledger append, SQLite file, 1 event: {untimed:.0f} µs untimed; the timing adds"
        f" {added:.2f} µs (ratio {(untimed + added) / untimed:.4f})"
    )
    proxied, direct = asyncio.run(calls(args.calls))
    print(
        f"provider call, trivial async method: measured {proxied:.2f} µs, direct {direct:.2f} µs"
        f" (+{proxied - direct:.2f} µs per call)"
    )


if __name__ == "__main__":
    main()
