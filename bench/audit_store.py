"""Benchmark of the audit event store on SQLite and PostgreSQL, with `eventsourcing` as baseline.

Prints append rates (single events, batches of 100, 4 concurrent writer processes), query
latency p50/p95 over a log of --events events, export rates (JSON Lines, and OCSF records: the
JSON Lines export in the same run is their baseline), verify rate, and the same append
workloads through the `eventsourcing` library's PostgreSQL recorder in the same run.

    .venv/bin/python bench/audit_store.py                 # 100k-event log (a few minutes)
    .venv/bin/python bench/audit_store.py --events 1000000
"""

from __future__ import annotations

import argparse
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
from sqlalchemy.engine import make_url

from orchestrator.audit import EventStore, ExportFormat
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


# -- Firebreak store workloads ---------------------------------------------------------------


def append_rate(store: EventStore, total: int, batch: int, seed: int, start: int = 0) -> float:
    rng = random.Random(seed)
    streams = [f"incident-{seed}-{i}" for i in range(1000)]
    batches = [
        [event(rng, start + b * batch + i) for i in range(batch)] for b in range(total // batch)
    ]
    began = time.perf_counter()
    for events in batches:
        store.append(rng.choice(streams), events)
    return total / (time.perf_counter() - began)


def _writer(url: str, seed: int, total: int, batch: int, go: Any, done: Any) -> None:
    engine = make_engine(url)
    store = EventStore(engine)
    store.head()
    go.wait()
    append_rate(store, total, batch, seed)
    done.put(total)
    engine.dispose()


def concurrent_rate(
    target: Callable[..., None], url: str, total: int, batch: int, seed: int
) -> float:
    """Events/s of WRITERS processes appending at once (process start-up not counted)."""
    ctx = multiprocessing.get_context("spawn")
    go, done = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(url, seed + w, total // WRITERS, batch, go, done))
        for w in range(WRITERS)
    ]
    for proc in procs:
        proc.start()
    time.sleep(3)  # let every writer import and connect before the clock starts
    began = time.perf_counter()
    go.set()
    written = 0
    for _ in procs:
        written += _next_result(done, procs)
    elapsed = time.perf_counter() - began
    for proc in procs:
        proc.join()
    return written / elapsed


def _next_result(done: Any, procs: list[Any]) -> int:
    """The next writer's count; fails fast instead of hanging when a writer has died."""
    while True:
        try:
            return int(done.get(timeout=1))
        except queue.Empty:
            if any(proc.exitcode not in (None, 0) for proc in procs):
                for proc in procs:
                    proc.kill()
                raise RuntimeError("a writer process failed (see its traceback above)") from None


def query_latencies(store: EventStore, rounds: int, log_size: int) -> tuple[float, float]:
    rng = random.Random(7)
    kinds: list[Callable[[], Any]] = [
        lambda: store.query(stream=f"incident-2-{rng.randrange(1000)}"),
        lambda: store.query(types=[rng.choice(TYPES)], after_position=rng.randrange(log_size)),
        lambda: store.query(actor=rng.choice(ACTORS).id, after_position=rng.randrange(log_size)),
        lambda: store.query(
            since=T0 + timedelta(seconds=rng.randrange(log_size * 2)),
            until=T0 + timedelta(seconds=rng.randrange(log_size * 2) + 3600),
        ),
    ]
    samples = []
    for n in range(rounds):
        began = time.perf_counter()
        kinds[n % len(kinds)]()
        samples.append((time.perf_counter() - began) * 1000)
    cuts = statistics.quantiles(samples, n=20)
    return statistics.median(samples), cuts[18]


def bench_firebreak(backend: str, workdir: Path, log_size: int) -> dict[str, Any]:
    url = new_database(backend, workdir)
    try:
        upgrade(url)
        engine = make_engine(url)
        store = EventStore(engine)
        figures: dict[str, Any] = {"single": append_rate(store, 2000, 1, 1)}
        fill_began = time.perf_counter()
        figures["batch100"] = append_rate(store, log_size - 2000, 100, 2, start=2000)
        figures["fill_seconds"] = time.perf_counter() - fill_began
        figures["p50_ms"], figures["p95_ms"] = query_latencies(store, 400, log_size)
        began = time.perf_counter()
        exported = store.export(io.StringIO())
        figures["export"] = exported / (time.perf_counter() - began)
        began = time.perf_counter()
        exported = store.export(io.StringIO(), format=ExportFormat.ocsf)
        figures["export_ocsf"] = exported / (time.perf_counter() - began)
        began = time.perf_counter()
        report = store.verify()
        figures["verify"] = report.checked / (time.perf_counter() - began)
        assert report.ok and report.checked == log_size, report
        engine.dispose()
        concurrent_url = new_database(backend, workdir)
        try:
            upgrade(concurrent_url)
            figures["writers4_b1"] = concurrent_rate(_writer, concurrent_url, 4000, 1, 1000)
            figures["writers4_b10"] = concurrent_rate(_writer, concurrent_url, 20000, 10, 2000)
            check = make_engine(concurrent_url)
            assert EventStore(check).verify().ok
            check.dispose()
        finally:
            drop_database(concurrent_url)
        return figures
    finally:
        drop_database(url)


# -- eventsourcing baseline ------------------------------------------------------------------


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


def _es_writer(url: str, seed: int, total: int, batch: int, go: Any, done: Any) -> None:
    recorder = _es_recorder(url)
    go.wait()
    es_append_rate(recorder, total, batch, seed)
    done.put(total)


def bench_eventsourcing(workdir: Path, log_size: int) -> dict[str, Any]:
    url = new_database("postgresql", workdir)
    try:
        recorder = _es_recorder(url, create=True)
        figures = {
            "single": es_append_rate(recorder, 2000, 1, 1),
            "batch100": es_append_rate(recorder, min(log_size, 100_000), 100, 2),
            "writers4_b1": concurrent_rate(_es_writer, url, 4000, 1, 1000),
            "writers4_b10": concurrent_rate(_es_writer, url, 20000, 10, 2000),
        }
        recorder.datastore.close()
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


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = [
        ("append, single events (events/s)", "single", "{:,.0f}"),
        ("append, batches of 100 (events/s)", "batch100", "{:,.0f}"),
        (f"append, {WRITERS} writer processes, batch 1 (events/s)", "writers4_b1", "{:,.0f}"),
        (f"append, {WRITERS} writer processes, batch 10 (events/s)", "writers4_b10", "{:,.0f}"),
        ("query latency p50 (ms)", "p50_ms", "{:.2f}"),
        ("query latency p95 (ms)", "p95_ms", "{:.2f}"),
        ("export (events/s)", "export", "{:,.0f}"),
        ("export as OCSF records (events/s)", "export_ocsf", "{:,.0f}"),
        ("verify (events/s)", "verify", "{:,.0f}"),
    ]
    names = list(results)
    lines = ["| measure | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for label, key, fmt in rows:
        cells = [fmt.format(results[n][key]) if key in results[n] else "—" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    fb, es = results.get("Firebreak PostgreSQL", {}), results.get("eventsourcing PostgreSQL", {})
    ratios = [
        f"{key}: {fb[key] / es[key]:.2f}x"
        for key in ("single", "batch100", "writers4_b1", "writers4_b10")
        if key in fb and key in es
    ]
    if ratios:
        lines.append("")
        lines.append("Firebreak / eventsourcing on PostgreSQL: " + ", ".join(ratios))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000, help="log size for queries")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--no-baseline", action="store_true", help="skip eventsourcing")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            name = {"sqlite": "Firebreak SQLite", "postgresql": "Firebreak PostgreSQL"}[backend]
            print(f"running {name} ({args.events:,} events)...", file=sys.stderr, flush=True)
            results[name] = bench_firebreak(backend, Path(tmp), args.events)
            print(results[name], file=sys.stderr, flush=True)
        if not args.no_baseline:
            print("running eventsourcing baseline...", file=sys.stderr, flush=True)
            results["eventsourcing PostgreSQL"] = bench_eventsourcing(Path(tmp), args.events)
    print(f"audit store benchmark, log of {args.events:,} events")
    print(f"machine: {machine()}")
    print(f"reproduce: .venv/bin/python bench/audit_store.py {' '.join(sys.argv[1:])}".rstrip())
    print()
    print(table(results))


if __name__ == "__main__":
    main()
