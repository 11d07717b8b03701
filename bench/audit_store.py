"""Benchmark of the audit event store on SQLite and PostgreSQL, with baselines in the same run.

Appends (batches of 1, 10 and 100; 4 writer processes at batches of 1, 10 and 100) run in pairs
against the `eventsourcing` library's PostgreSQL recorder: each pair runs --rounds times,
alternating which side goes first (AB, BA, AB, ...), and the table gives each side's median
and the ratio of the medians, with the range of the per-round ratios, so a burst of other work
on a shared machine lands on both sides. Verify is paired the same way with a baseline that
reads the same rows (the same query, through the DBAPI cursor) and SHA-256-hashes each.
Query latency p50/p95 and export (JSON Lines, and OCSF records, whose baseline is the JSON Lines
export of the same run) run over a log of --events events.

    .venv/bin/python bench/audit_store.py                 # 100k-event log (a few minutes)
    .venv/bin/python bench/audit_store.py --events 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import os
import platform
import queue
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from orchestrator.audit import EventStore, ExportFormat, schema
from orchestrator.audit.verify import BATCH, rows_between
from orchestrator.db import make_engine, upgrade
from orchestrator.domain import Actor, NewEvent

PG_ADMIN_URL = os.environ.get(
    "FIREBREAK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TYPES = [
    "AlertReceived",
    "IncidentOpened",
    "StepRequested",
    "StepApproved",
    "StepStarted",
    "StepSucceeded",
    "EvidenceCollected",
    "IncidentClosed",
]
ACTORS = [Actor(id=f"user-{i}", role="responder") for i in range(10)] + [Actor.system()]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
WRITERS = 4
BATCHES = (1, 10, 100)
# Events per measurement: enough for a second or more of work at today's rates.
SINGLE_TOTAL = {1: 1500, 10: 6000, 100: 20000}
WRITERS_TOTAL = {1: 2000, 10: 8000, 100: 20000}


def event(rng: random.Random, n: int) -> NewEvent:
    """A realistic event: ~300 bytes of payload, spread over types, actors and a month."""
    return NewEvent(
        id=str(uuid.UUID(int=rng.getrandbits(128))),
        type=rng.choice(TYPES),
        actor=rng.choice(ACTORS),
        occurred_at=T0 + timedelta(seconds=n * 2 + rng.random()),
        payload={
            "step": f"step-{n % 17}",
            "action": "revoke_api_key",
            "params": {"api_key": f"key-{n % 997}", "environment": "prod"},
            "summary": "revoked the key that drove the agent; usage dropped to zero " * 2,
        },
    )


# -- databases ------------------------------------------------------------------------------


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def new_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    name = f"fbbench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


# -- append workloads (both systems) ------------------------------------------------------


def fb_append_rate(store: EventStore, total: int, batch: int, seed: int) -> float:
    rng = random.Random(seed)
    streams = [f"incident-{seed}-{i}" for i in range(1000)]
    batches = [[event(rng, b * batch + i) for i in range(batch)] for b in range(total // batch)]
    began = time.perf_counter()
    for events in batches:
        store.append(rng.choice(streams), events)
    return total / (time.perf_counter() - began)


def es_append_rate(recorder: Any, total: int, batch: int, seed: int) -> float:
    from eventsourcing.persistence import StoredEvent

    rng = random.Random(seed)
    streams = {uuid.UUID(int=rng.getrandbits(128)): 0 for _ in range(1000)}
    ids = list(streams)
    batches = []
    for b in range(total // batch):
        stream = rng.choice(ids)
        rows = []
        for i in range(batch):
            streams[stream] += 1
            e = event(rng, b * batch + i)
            rows.append(StoredEvent(stream, streams[stream], e.type, e.model_dump_json().encode()))
        batches.append(rows)
    began = time.perf_counter()
    for rows in batches:
        recorder.insert_events(rows)
    return total / (time.perf_counter() - began)


def _es_recorder(url: str, create: bool = False) -> Any:
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    parsed = make_url(url)
    datastore = PostgresDatastore(
        dbname=parsed.database or "",
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password="",
    )
    recorder = PostgresApplicationRecorder(datastore)
    if create:
        recorder.create_table()
    return recorder


def _writer(
    system: str, url: str, seed: int, total: int, batch: int, ready: Any, go: Any, done: Any
) -> None:
    """One writer process: connect, say so, wait for the start, append, report."""
    if system == "firebreak":
        engine = make_engine(url)
        store = EventStore(engine)
        store.head()
        ready.put(seed)
        go.wait()
        fb_append_rate(store, total, batch, seed)
        engine.dispose()
    else:
        recorder = _es_recorder(url)
        recorder.max_notification_id()
        ready.put(seed)
        go.wait()
        es_append_rate(recorder, total, batch, seed)
        recorder.datastore.close()
    done.put(total)


def concurrent_rate(system: str, url: str, total: int, batch: int, seed: int) -> float:
    """Events/s of WRITERS processes appending at once (start-up and connecting not counted)."""
    writers = [(system, url, seed + w, total // WRITERS, batch) for w in range(WRITERS)]
    return writers_rate(_writer, writers)


def writers_rate(target: Callable[..., None], writers: Sequence[tuple[Any, ...]]) -> float:
    """Events/s of one process per item of `writers`, each running `target(*item, ready, go,
    done)`: it connects, puts on `ready`, waits for `go`, appends and puts its count on
    `done`. The clock runs from the moment all are connected until the last is done."""
    ctx = multiprocessing.get_context("spawn")
    ready, go, done = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, ready, go, done)) for args in writers]
    for proc in procs:
        proc.start()
    for _ in procs:
        _next_result(ready, procs)
    began = time.perf_counter()
    go.set()
    written = 0
    for _ in procs:
        written += _next_result(done, procs)
    elapsed = time.perf_counter() - began
    for proc in procs:
        proc.join()
    return written / elapsed


def _next_result(results: Any, procs: list[Any]) -> int:
    """The next writer's message; fails fast instead of hanging when a writer has died."""
    while True:
        try:
            return int(results.get(timeout=1))
        except queue.Empty:
            if any(proc.exitcode not in (None, 0) for proc in procs):
                for proc in procs:
                    proc.kill()
                raise RuntimeError("a writer process failed (see its traceback above)") from None


class Pairs:
    """Measurements of two sides run alternately: round r runs A then B when r is even,
    B then A when odd."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.figures: dict[str, dict[str, list[float]]] = {}

    def run(self, key: str, sides: dict[str, Callable[[int], float]]) -> None:
        names = list(sides)
        for r in range(self.rounds):
            for name in names if r % 2 == 0 else reversed(names):
                rate = sides[name](r)
                self.figures.setdefault(key, {}).setdefault(name, []).append(rate)
                print(f"  {key} round {r + 1} {name}: {rate:,.0f}/s", file=sys.stderr, flush=True)

    def median(self, key: str, name: str) -> float | None:
        values = self.figures.get(key, {}).get(name)
        return statistics.median(values) if values else None

    def ratios(self, key: str, a: str, b: str) -> tuple[float, float, float] | None:
        """(ratio of the medians, lowest and highest per-round ratio) of `a` to `b`."""
        pairs = self.figures.get(key, {})
        if a not in pairs or b not in pairs:
            return None
        per_round = [x / y for x, y in zip(pairs[a], pairs[b], strict=True)]
        return (
            statistics.median(pairs[a]) / statistics.median(pairs[b]),
            min(per_round),
            max(per_round),
        )


def bench_appends(pairs: Pairs, backends: Sequence[str], workdir: Path, baseline: bool) -> None:
    """Every append workload, each system on its own fresh database."""
    urls = {backend: new_database(backend, workdir) for backend in backends}
    es_url = new_database("postgresql", workdir) if baseline else None
    engines = {}
    try:
        for backend, url in urls.items():
            upgrade(url)
            engines[backend] = make_engine(url)
        stores = {backend: EventStore(engine) for backend, engine in engines.items()}
        recorder = _es_recorder(es_url, create=True) if es_url else None
        for batch in BATCHES:
            total = SINGLE_TOTAL[batch]
            sides: dict[str, Callable[[int], float]] = {
                f"Firebreak {backend}": (
                    lambda r, s=stores[backend], t=total, b=batch: fb_append_rate(
                        s, t, b, 1_000_000 + 100 * b + r
                    )
                )
                for backend in backends
            }
            if recorder is not None:
                sides["eventsourcing"] = lambda r, t=total, b=batch: es_append_rate(
                    recorder, t, b, 1_000_000 + 100 * b + r
                )
            pairs.run(f"batch{batch}", sides)
        for batch in BATCHES:
            total = WRITERS_TOTAL[batch]
            sides = {
                f"Firebreak {backend}": (
                    lambda r, u=urls[backend], t=total, b=batch: concurrent_rate(
                        "firebreak", u, t, b, 2_000_000 + 1000 * b + 10 * r
                    )
                )
                for backend in backends
            }
            if es_url is not None:
                sides["eventsourcing"] = lambda r, t=total, b=batch: concurrent_rate(
                    "eventsourcing", str(es_url), t, b, 2_000_000 + 1000 * b + 10 * r
                )
            pairs.run(f"writers{batch}", sides)
        for store in stores.values():
            report = store.verify()
            assert report.ok, report
        if recorder is not None:
            recorder.datastore.close()
    finally:
        for engine in engines.values():
            engine.dispose()
        for url in [*urls.values(), es_url]:
            if url:
                drop_database(url)


# -- reading: queries, export, verify and its baseline ------------------------------------


def query_latencies(store: EventStore, rounds: int, log_size: int) -> tuple[float, float]:
    """p50 and p95 (ms) over the auditor's filters in turn: one incident, a type and an actor
    from a random cursor, and one hour of events (events are 2 s apart: about 1,800)."""
    rng = random.Random(7)
    span = log_size * 2  # seconds of occurred_at the log covers

    def hour() -> Any:
        since = T0 + timedelta(seconds=rng.randrange(span))
        return store.query(since=since, until=since + timedelta(hours=1))

    kinds: list[Callable[[], Any]] = [
        lambda: store.query(stream=f"incident-2-{rng.randrange(1000)}"),
        lambda: store.query(types=[rng.choice(TYPES)], after_position=rng.randrange(log_size)),
        lambda: store.query(actor=rng.choice(ACTORS).id, after_position=rng.randrange(log_size)),
        hour,
    ]
    return _latencies([kinds[n % len(kinds)] for n in range(rounds)])


def wide_range_latencies(store: EventStore, rounds: int, log_size: int) -> tuple[float, float]:
    """p50 and p95 (ms) of a time range a tenth of the log wide, from a random start: the
    first page is the events of lowest position in it, which no index serves in that order
    (docs/audit-ledger.md, "Reading")."""
    rng = random.Random(8)
    span = log_size * 2

    def wide() -> Any:
        since = T0 + timedelta(seconds=rng.randrange(span))
        return store.query(since=since, until=since + timedelta(seconds=span // 10))

    return _latencies([wide] * rounds)


def _latencies(calls: Sequence[Callable[[], Any]]) -> tuple[float, float]:
    samples = []
    for call in calls:
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    cuts = statistics.quantiles(samples, n=20)
    return statistics.median(samples), cuts[18]


def read_and_hash_rate(engine: sa.Engine) -> float:
    """Verify's floor: the rows verify reads, fetched as verify fetches them (`rows_between`,
    the same query over the same position ranges, the driver's tuples), each SHA-256-hashed
    over its fields joined; no encoding, no chain, no checks."""
    began = time.perf_counter()
    with engine.connect() as conn:
        head = int(conn.execute(sa.select(schema.head.c.position)).scalar_one())
    hashed = 0
    for lo in range(1, head + 1, BATCH):
        for row in rows_between(engine, lo, min(head, lo + BATCH - 1)):
            hashlib.sha256("\x1f".join(map(str, row)).encode()).hexdigest()
            hashed += 1
    assert hashed == head, (hashed, head)
    return hashed / (time.perf_counter() - began)


def verify_rate(store: EventStore, log_size: int) -> float:
    began = time.perf_counter()
    report = store.verify()
    rate = report.checked / (time.perf_counter() - began)
    assert report.ok and report.checked == log_size, report
    return rate


def bench_reading(pairs: Pairs, backend: str, workdir: Path, log_size: int) -> dict[str, float]:
    url = new_database(backend, workdir)
    name = f"Firebreak {backend}"
    try:
        upgrade(url)
        engine = make_engine(url)
        store = EventStore(engine)
        rng = random.Random(2)
        streams = [f"incident-2-{i}" for i in range(1000)]
        for start in range(0, log_size, 500):
            store.append(rng.choice(streams), [event(rng, start + i) for i in range(500)])
        figures: dict[str, float] = {}
        # Appends leave the lookup table alone; the first filtered query would index the
        # whole log. Timed on its own, then the queries see a table kept up to date.
        began = time.perf_counter()
        assert store.index.extend() == log_size
        figures["index"] = log_size / (time.perf_counter() - began)
        with engine.begin() as conn:  # as autovacuum would soon: the planner needs statistics
            conn.exec_driver_sql("ANALYZE")
        figures["p50_ms"], figures["p95_ms"] = query_latencies(store, 400, log_size)
        figures["wide_p50_ms"], figures["wide_p95_ms"] = wide_range_latencies(store, 40, log_size)
        began = time.perf_counter()
        exported = store.export(io.StringIO())
        figures["export"] = exported / (time.perf_counter() - began)
        began = time.perf_counter()
        exported = store.export(io.StringIO(), format=ExportFormat.ocsf)
        figures["export_ocsf"] = exported / (time.perf_counter() - began)
        pairs.run(
            f"verify {backend}",
            {
                name: lambda r: verify_rate(store, log_size),
                "read + SHA-256": lambda r: read_and_hash_rate(engine),
            },
        )
        engine.dispose()
        return figures
    finally:
        drop_database(url)


# -- report ----------------------------------------------------------------------------------


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    with psycopg.connect(_libpq(PG_ADMIN_URL)) as conn:
        pg = conn.execute("SHOW server_version").fetchone()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL {pg[0] if pg else '?'}; load average at the end {load}"
        " (other work on the machine skews every figure)"
    )


def _ratio(found: tuple[float, float, float] | None) -> str:
    if found is None:
        return "—"
    median, low, high = found
    return f"**{median:.2f}x** ({low:.2f} to {high:.2f})"


def append_table(pairs: Pairs, backends: Sequence[str]) -> str:
    names = [f"Firebreak {backend}" for backend in backends] + ["eventsourcing"]
    lines = [
        "| append (events/s, median of rounds) | "
        + " | ".join(names)
        + " | Firebreak PostgreSQL / eventsourcing (per-round range) |",
        "| --- |" + " --- |" * (len(names) + 1),
    ]
    workloads = [(f"batch{b}", f"one writer, batches of {b}") for b in BATCHES] + [
        (f"writers{b}", f"{WRITERS} writer processes, batches of {b}") for b in BATCHES
    ]
    for key, label in workloads:
        cells = [pairs.median(key, name) for name in names]
        shown = [f"{c:,.0f}" if c is not None else "—" for c in cells]
        ratio = _ratio(pairs.ratios(key, "Firebreak postgresql", "eventsourcing"))
        lines.append(f"| {label} | " + " | ".join(shown) + f" | {ratio} |")
    return "\n".join(lines)


def reading_table(pairs: Pairs, reading: dict[str, dict[str, float]]) -> str:
    names = list(reading)
    lines = [
        "| measure | " + " | ".join(f"Firebreak {n}" for n in names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    rows = [
        ("query latency p50 (ms)", "p50_ms", "{:.2f}"),
        ("query latency p95 (ms)", "p95_ms", "{:.2f}"),
        ("query, a tenth of the log's time range, p50 (ms)", "wide_p50_ms", "{:.2f}"),
        ("query, a tenth of the log's time range, p95 (ms)", "wide_p95_ms", "{:.2f}"),
        ("lookup table extended over the whole log (events/s)", "index", "{:,.0f}"),
        ("export (events/s)", "export", "{:,.0f}"),
        ("export as OCSF records (events/s)", "export_ocsf", "{:,.0f}"),
    ]
    for label, key, fmt in rows:
        lines.append(
            f"| {label} | " + " | ".join(fmt.format(reading[n][key]) for n in names) + " |"
        )
    for label, side in (
        ("verify (events/s)", None),
        ("read + SHA-256 baseline (events/s)", "read + SHA-256"),
    ):
        cells = []
        for n in names:
            value = pairs.median(f"verify {n}", side or f"Firebreak {n}")
            cells.append(f"{value:,.0f}" if value is not None else "—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    ratios = [
        _ratio(pairs.ratios(f"verify {n}", f"Firebreak {n}", "read + SHA-256")) for n in names
    ]
    lines.append("| verify / baseline (per-round range) | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000, help="log size for reading")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per pair")
    parser.add_argument("--no-baseline", action="store_true", help="skip eventsourcing")
    parser.add_argument("--only", choices=["appends", "reading"], help="one half only")
    args = parser.parse_args(argv)
    backends = args.backends.split(",")
    pairs = Pairs(args.rounds)
    reading: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "reading":
            print("appends...", file=sys.stderr, flush=True)
            bench_appends(pairs, backends, Path(tmp), not args.no_baseline)
        if args.only != "appends":
            for backend in backends:
                print(f"reading, {backend}, {args.events:,} events...", file=sys.stderr, flush=True)
                reading[backend] = bench_reading(pairs, backend, Path(tmp), args.events)
    print(
        f"audit store benchmark, {args.rounds} alternating rounds per pair,"
        f" log of {args.events:,} events"
    )
    print(f"machine: {machine()}")
    print(f"reproduce: .venv/bin/python bench/audit_store.py {' '.join(sys.argv[1:])}".rstrip())
    if args.only != "reading":
        print()
        print(append_table(pairs, backends))
    if reading:
        print()
        print(reading_table(pairs, reading))


if __name__ == "__main__":
    main()
