"""Cost of the shared ingest rate limit: one `RateLimiter.take` (the database-backed token
bucket every API replica spends) on SQLite and PostgreSQL, beside a bare `SELECT 1` round trip
on the same PostgreSQL server in the same run, the floor any shared counter pays.

    .venv/bin/python bench/rate_limit.py            # 2000 takes per backend
    .venv/bin/python bench/rate_limit.py --takes 10000

PostgreSQL comes from FIREBREAK_TEST_PG_URL (default: the local trust-auth server); a fresh
database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator import db
from orchestrator.alerts.limits import RateLimiter
from tests.support.databases import create_pg_database, drop_pg_database


def timed(call: Callable[[], object], n: int) -> tuple[float, float]:
    """p50 and p99 of `call`, in milliseconds."""
    for _ in range(50):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(0.99 * n)] * 1e3


def takes(url: str, n: int) -> tuple[float, float]:
    db.upgrade(url)
    limiter = RateLimiter(url, 10**9)
    try:
        return timed(lambda: limiter.take("detector"), n)
    finally:
        limiter.close()


def round_trip(url: str, n: int) -> tuple[float, float]:
    engine = db.make_autocommit_engine(url)
    try:

        def select() -> None:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))

        return timed(select, n)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takes", type=int, default=2000)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"command: python bench/rate_limit.py --takes {args.takes}")
    with tempfile.TemporaryDirectory() as folder:
        p50, p99 = takes(f"sqlite:///{folder}/bench.db", args.takes)
    print(f"sqlite      take   p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
    url = create_pg_database()
    try:
        p50, p99 = takes(url, args.takes)
        print(f"postgresql  take   p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
        p50, p99 = round_trip(url, args.takes)
        print(f"postgresql  SELECT 1 p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  (the floor)")
    finally:
        drop_pg_database(url)


if __name__ == "__main__":
    main()
