"""Throughput of the SIEM forwarder to each kind of sink, beside its floor in the same run.

A SQLite ledger of --events events (every third with a sealed field) is forwarded from its
beginning to: Debian's rsyslogd over TLS, a loopback HEC server and a loopback Elasticsearch
`_bulk` server (the tests' servers, tests/support/siem.py), each through `SinkForwarder` with
a fresh cursor. The baseline is what every sink pays before the network: reading the ledger
sealed (`read_all(sealed=True)`), formatting each event as its `jsonl` record and encoding it,
with no cursor and no sink. Figures vary several-fold from machine to machine; compare the
ratios to the baseline.

    .venv/bin/python bench/forward.py                  # 20,000 events, batches of 200
    .venv/bin/python bench/forward.py --events 100000 --batch 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator.audit import EventStore, StreamAppend
from orchestrator.db import make_engine, upgrade
from orchestrator.domain import Actor, NewEvent
from orchestrator.forwarding import SinkForwarder, parse_sink
from orchestrator.forwarding.formats import jsonl
from orchestrator.security.keyring import KeyRing
from tests.support.providers import serving
from tests.support.siem import HEC_TOKEN, BulkServer, HecServer, Rsyslog, make_ca


def fill(store: EventStore, count: int) -> None:
    """`count` events of about 300 bytes, appended 100 at a time."""
    now = datetime.now(UTC)
    batch: list[NewEvent] = []
    for n in range(count):
        sealed = n % 3 == 0
        payload = {"n": n, "note": "x" * 200, "prompt": "ignore previous instructions"}
        batch.append(
            NewEvent(
                id=str(uuid.uuid4()),
                type="StepSucceeded",
                actor=Actor.system(),
                occurred_at=now,
                payload=payload,
                sensitive=("prompt",) if sealed else (),
            )
        )
        if len(batch) == 100:
            store.append_many([StreamAppend(f"incident-{n // 1000}", batch)])
            batch = []
    if batch:
        store.append_many([StreamAppend("incident-last", batch)])


def baseline(store: EventStore) -> float:
    start = time.perf_counter()
    count = 0
    for event in store.read_all(sealed=True):
        json.dumps(jsonl(event), separators=(",", ":")).encode()
        count += 1
    return count / (time.perf_counter() - start)


async def through(store: EventStore, url: str, batch: int) -> float:
    forwarder = SinkForwarder(store, parse_sink(url), batch_size=batch)
    start = time.perf_counter()
    count = await forwarder.catch_up()
    elapsed = time.perf_counter() - start
    await forwarder.sink.close()
    return count / elapsed


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, Python"
        f" {platform.python_version()}; load average at the end {load}"
        " (other work on the machine skews every figure)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    os.environ["BENCH_HEC_TOKEN"] = HEC_TOKEN
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'firebreak.db'}"
        upgrade(url)
        store = EventStore(make_engine(url), keyring=KeyRing.generate())
        fill(store, args.events)
        results = {"baseline: read sealed + format jsonl, no sink": baseline(store)}
        hec, bulk = HecServer(), BulkServer()
        rsyslog = Rsyslog(directory=root / "rsyslog", ca=make_ca(root / "rsyslog")[0])
        rsyslog.start()
        try:
            with serving(hec.handle) as hec_loop, serving(bulk.handle) as bulk_loop:
                hec_port = hec_loop.url.rsplit(":", 1)[1]
                bulk_port = bulk_loop.url.rsplit(":", 1)[1]
                sinks = {
                    "syslog over TLS to rsyslogd": (
                        f"syslog+tls://localhost:{rsyslog.port}?ca={rsyslog.ca}&name=syslog"
                    ),
                    "Splunk HEC (loopback server)": (
                        f"hec+http://127.0.0.1:{hec_port}?token_env=BENCH_HEC_TOKEN&name=hec"
                    ),
                    "Elasticsearch _bulk (loopback server)": (
                        f"elasticsearch+http://127.0.0.1:{bulk_port}/audit?name=es"
                    ),
                }
                for label, sink in sinks.items():
                    results[label] = asyncio.run(through(store, sink, args.batch))
        finally:
            rsyslog.stop()
        store.engine.dispose()
    base = results["baseline: read sealed + format jsonl, no sink"]
    print(f"forwarder throughput, {args.events:,} events, batches of {args.batch}, SQLite")
    print(f"machine: {machine()}")
    print(f"command: .venv/bin/python bench/forward.py --events {args.events} --batch {args.batch}")
    print("| path | events/s | ratio to baseline |")
    print("| --- | --- | --- |")
    for label, rate in results.items():
        print(f"| {label} | {rate:,.0f} | {rate / base:.2f} |")


if __name__ == "__main__":
    main()
