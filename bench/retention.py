"""Cost of the retention prune (`orchestrator.retention`) on a grown `webhook_deliveries`.

With `--live` rows inside the retention and `--dead` rows past it, on SQLite and PostgreSQL:

- the batched prune (1000 rows a transaction), its total time and its longest transaction,
  beside the baseline measured in the same run on a copy of the same rows: one unbatched
  `DELETE ... WHERE received_at < cutoff` (one transaction holding every row lock);
- a prune that finds nothing dead (the hourly case once caught up), with migration 0016's
  index on `received_at` and without it.

    .venv/bin/python bench/retention.py                 # 100000 live, 100000 dead rows
    .venv/bin/python bench/retention.py --live 1000000 --dead 200000

PostgreSQL comes from FIREBREAK_TEST_PG_URL (default: the local trust-auth server); fresh
databases are created and dropped.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator import db, retention
from orchestrator.alerts.models import deliveries
from orchestrator.settings import Settings
from tests.support.databases import create_pg_database, drop_pg_database

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def seed(engine: sa.Engine, live: int, dead: int) -> None:
    rows = [
        {
            "key": f"{i:064x}",
            "body_sha256": "0" * 64,
            "response": None,
            "received_at": NOW - timedelta(days=100 if i < dead else 1, seconds=i),
        }
        for i in range(live + dead)
    ]
    for start in range(0, len(rows), 10_000):
        with engine.begin() as conn:
            conn.execute(sa.insert(deliveries), rows[start : start + 10_000])


def batched(engine: sa.Engine, settings: Settings) -> tuple[float, float, int]:
    """Total seconds, longest transaction in seconds, rows deleted."""
    longest = 0.0
    began: list[float] = []

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        began.append(time.perf_counter())

    @sa.event.listens_for(engine, "commit")
    def _commit(conn: sa.Connection) -> None:
        nonlocal longest
        longest = max(longest, time.perf_counter() - began.pop())

    start = time.perf_counter()
    counts = retention.prune(engine, settings, NOW)
    total = time.perf_counter() - start
    sa.event.remove(engine, "begin", _begin)
    sa.event.remove(engine, "commit", _commit)
    return total, longest, counts["webhook_deliveries"]


def unbatched(engine: sa.Engine) -> tuple[float, int]:
    start = time.perf_counter()
    with db.writing(engine) as conn:
        gone = conn.execute(
            sa.delete(deliveries).where(deliveries.c.received_at < NOW - timedelta(days=90))
        ).rowcount
    return time.perf_counter() - start, gone


def nothing_dead(engine: sa.Engine, settings: Settings, rounds: int = 5) -> float:
    """Median seconds of a prune that finds nothing to delete."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        retention.prune(engine, settings, NOW)
        samples.append(time.perf_counter() - start)
    return sorted(samples)[rounds // 2]


def measure(name: str, make_url: Callable[[], str], live: int, dead: int) -> None:
    settings = Settings()
    urls = [make_url(), make_url()]
    engines = []
    try:
        for url in urls:
            db.upgrade(url)
            engine = db.make_engine(url)
            engines.append(engine)
            seed(engine, live, dead)
            with engine.connect() as conn:  # fresh planner statistics on both copies
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        total, longest, gone = batched(engines[0], settings)
        base, base_gone = unbatched(engines[1])
        assert gone == base_gone == dead, (gone, base_gone)
        indexed = nothing_dead(engines[0], settings)
        with engines[0].begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_webhook_deliveries_received_at")
        scanned = nothing_dead(engines[0], settings)
        print(
            f"{name:<10} batched prune {total:6.2f} s (longest transaction {longest * 1e3:7.1f} ms)"
            f" | one DELETE {base:6.2f} s, all in one transaction"
            f" | ratio {total / base:4.2f}"
        )
        print(
            f"{name:<10} prune with nothing dead: {indexed * 1e3:7.1f} ms with the index,"
            f" {scanned * 1e3:7.1f} ms without | ratio {scanned / indexed:5.1f}"
        )
    finally:
        for engine in engines:
            engine.dispose()
        for url in urls:
            if url.startswith("postgresql"):
                drop_pg_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", type=int, default=100_000)
    parser.add_argument("--dead", type=int, default=100_000)
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, {platform.platform()}")
    print(f"command: python bench/retention.py --live {args.live} --dead {args.dead}")
    with tempfile.TemporaryDirectory() as tmp:
        copies = iter(range(2))
        measure(
            "sqlite",
            lambda: f"sqlite:///{tmp}/copy{next(copies)}.db",
            args.live,
            args.dead,
        )
    measure("postgresql", create_pg_database, args.live, args.dead)


if __name__ == "__main__":
    main()
