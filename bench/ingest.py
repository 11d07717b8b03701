"""Ingest benchmark: the real stack on loopback, driven as detectors drive it.

Starts the stack in a temporary data dir on free ports: by default the production shape
(`temporal server start-dev` from the wheel, `firebreak worker` and `firebreak api` as three
processes on one SQLite event store), or with `--topology all-in-one` the embedded default
(`firebreak up`: worker and API in one process), or with `--topology scaled` two `firebreak api`
and two `firebreak worker` replicas on PostgreSQL (tests/e2e/topology.py, each replica with its
own data dir) measured in the same run beside one of each on the same PostgreSQL, for what
coordinating replicas through the database costs per alert (CPU of each process read from
/proc/PID/stat; the scaled run skips phase 4). As baselines in the same run: a bare FastAPI
endpoint under uvicorn and a trivial one-activity workflow on the same Temporal server. The
load comes from `bench/loadgen.py`, a lean keep-alive HTTP client. Prints:

1. sustained alerts/s accepted (202) with p50/p95/p99, against the same load on the bare app,
   and the CPU each process spent per accepted request; then the same load as real-shaped
   Alertmanager deliveries (the labels Prometheus rules carry, no Firebreak label) that a
   one-line routes file types, printed beside the generic rate with their ratio;
2. webhook receipt -> first containment step completed (auto-approved), p50/p99, at 2, 5 and
   10 new incidents/s (distinct fingerprints) while 200 alerts/s of duplicates arrive;
3. a storm of N alerts with one fingerprint -> incidents created (must be 1);
4. the trivial workflow: starts/s and completions/s for 400 at once, p50/p99 start->result
   paced at 10/s.

    .venv/bin/python bench/ingest.py            # full run (about 10 minutes on 2 cores)
    .venv/bin/python bench/ingest.py --quick    # shorter phases, 2,000-alert storm
    .venv/bin/python bench/ingest.py --topology scaled --quick
    .venv/bin/python bench/ingest.py --tracing --quick   # tracing off vs on, same run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (`python bench/ingest.py`)
    sys.path.insert(0, str(ROOT))

from bench.loadgen import Pool, RoundRobin, pool  # noqa: E402 - needs ROOT on sys.path

ALERTS = "/v1/alerts/generic"
ALERTMANAGER = "/v1/alerts/alertmanager"
ROUTES = """routes:
  - id: injection-blocks
    match: {labels.alertname: GuardrailInjectionBlocksHigh}
    type: prompt_injection
"""
"""The routes file of the run: the one line a user writes to type Prometheus's alertname."""
VENV_BIN = Path(sys.executable).parent
TYPE = "prompt_injection"
CONTAINMENT_WAIT = 60.0
IDLE_SECONDS = 5.0
SETTLE_SECONDS = 3.0
"""Pause before each sustained half, for the previous load's backlog to drain."""


# --- baselines ---------------------------------------------------------------------------------


def bare_app() -> Any:
    """The floor for HTTP: a FastAPI endpoint that parses JSON and answers 202."""
    app = FastAPI()

    @app.post("/v1/alerts/generic", status_code=202)
    async def accept(request: Request) -> dict[str, str]:
        await request.json()
        return {"status": "accepted"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@activity.defn(name="bench.noop")
async def noop(value: str) -> str:
    return value


@workflow.defn(name="BenchTrivial", sandboxed=False)
class TrivialWorkflow:
    """The floor for Temporal: one regular activity, nothing else."""

    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            noop, value, start_to_close_timeout=timedelta(seconds=30)
        )


# --- measurement helpers -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def group_cpu(groups: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each process group (a child and all it started), and by this
    client process."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = dict.fromkeys([*groups, "client"], 0.0)
    names = {pgid: name for name, pgid in groups.items()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if int(entry.name) == os.getpid():
            totals["client"] += seconds
        elif (name := names.get(int(fields[2]))) is not None:
            totals[name] += seconds
    return totals


def tree_cpu(trees: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each live process tree (a daemon such as PostgreSQL that left
    our process group, and the backends it forked)."""
    from tests.e2e.procs import descendants
    from tests.e2e.topology import cpu_seconds

    return {
        name: sum(cpu_seconds(p, children=False) for p in {pid, *descendants(pid)})
        for name, pid in trees.items()
    }


async def measured(
    phase: Awaitable[Load], groups: dict[str, int], trees: dict[str, int] | None = None
) -> Load:
    """Run `phase`, recording the CPU each process group (and process tree) spent on it."""
    before = group_cpu(groups) | tree_cpu(trees or {})
    load = await phase
    after = group_cpu(groups) | tree_cpu(trees or {})
    load.cpu = {name: after[name] - before[name] for name in after}
    return load


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


@dataclass
class Load:
    """Outcome of one load phase: latencies of accepted requests, other status counts."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # process group -> CPU seconds
    idle: Load | None = None  # the same processes at rest, measured just before

    def add(self, other: Load) -> None:
        """Fold another run of the same phase into this one."""
        self.seconds += other.seconds
        self.latencies += other.latencies
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        for name, seconds in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds

    def cpu_line(self) -> str:
        count = max(self.accepted, 1)
        return ", ".join(
            f"{name} {seconds / count * 1000:.2f} ms" for name, seconds in self.cpu.items()
        )

    def firebreak_cpu(self, idle: Load | None = None) -> float:
        """CPU ms per accepted alert of every `firebreak` process (APIs and workers); with
        `idle`, less what they spend at rest over as long (projection polls, worker polls),
        which grows with the number of replicas and the phase's length, not with alerts."""
        ours = sum(s for name, s in self.cpu.items() if _is_firebreak(name))
        if idle is not None and idle.seconds:
            at_rest = sum(s for name, s in idle.cpu.items() if _is_firebreak(name))
            ours -= at_rest / idle.seconds * self.seconds
        return ours / max(self.accepted, 1) * 1000

    @property
    def accepted(self) -> int:
        return self.statuses.get(202, 0)

    def line(self, name: str) -> str:
        rate = self.accepted / self.seconds if self.seconds else 0.0
        others = {k: v for k, v in self.statuses.items() if k != 202}
        return (
            f"{name:<34} {rate:7.0f}/s accepted   p50 {ms(pct(self.latencies, 0.5)):>7}"
            f"   p95 {ms(pct(self.latencies, 0.95)):>7}   p99 {ms(pct(self.latencies, 0.99)):>7}"
            + (f"   other statuses {others}" if others else "")
        )


def _is_firebreak(process: str) -> bool:
    return process.startswith(("API", "worker", "api-"))


async def at_rest(seconds: float) -> Load:
    """No load for `seconds`: what the processes spend idle (see `Load.firebreak_cpu`)."""
    await asyncio.sleep(seconds)
    return Load(seconds=seconds)


async def post(
    http: Pool | RoundRobin, body: dict[str, Any], load: Load, path: str = ALERTS
) -> None:
    started = time.perf_counter()
    try:
        status, _ = await http.post_json(path, body)
    except OSError:
        status = -1
    load.statuses[status] = load.statuses.get(status, 0) + 1
    if status == 202:
        load.latencies.append(time.perf_counter() - started)


async def closed_loop(
    http: Pool | RoundRobin,
    make: Callable[[int], dict[str, Any]],
    total: int,
    concurrency: int,
    path: str = ALERTS,
) -> Load:
    """`total` requests from `concurrency` senders as fast as answers come back."""
    load = Load()
    counter = iter(range(total))

    async def sender() -> None:
        for i in counter:
            await post(http, make(i), load, path)

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    load.seconds = time.perf_counter() - started
    return load


async def paced(rate: float, seconds: float, send: Callable[[int], Awaitable[None]]) -> None:
    """Open loop: fire `send(i)` at `rate`/s regardless of how fast earlier ones finish."""
    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.gather(*tasks)


# --- the stack ---------------------------------------------------------------------------------


@dataclass
class Stack:
    urls: list[str]  # every API replica; load is spread over them in turn
    temporal: str
    settings: Any  # orchestrator.settings.Settings that reach the event store
    resources: dict[str, str]
    groups: dict[str, int]  # name -> process group id, for CPU accounting
    trees: dict[str, int] = field(default_factory=dict)  # name -> pid of a daemon and children

    @property
    def url(self) -> str:
        return self.urls[0]


def bench_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_")}
    env |= {
        "FIREBREAK_DATA_DIR": str(data_dir),
        "FIREBREAK_RATE_LIMIT_PER_MINUTE": "100000000",
        "FIREBREAK_GUARD_WINDOW_SECONDS": "0",
        "FIREBREAK_ROUTES_FILE": str(routes_file(data_dir.parent)),
    }
    return env


def routes_file(root: Path) -> Path:
    """The run's routes file (`ROUTES`), written under `root`."""
    path = root / "routes.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ROUTES)
    return path


async def wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"{proc.args!r} exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds:.0f}s")


@contextlib.asynccontextmanager
async def process(
    args: list[str], env: dict[str, str], ready_url: str | None
) -> AsyncIterator[int]:
    """A child in its own process group, stopped (with everything it started) on exit."""
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
        args,
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if ready_url is not None:
            await wait_http(ready_url, proc)
        yield proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.asynccontextmanager
async def firebreak_stack(
    data_dir: Path, topology: str, extra_env: dict[str, str] | None = None
) -> AsyncIterator[Stack]:
    """`all-in-one`: `firebreak up` (worker and API in one process, the embedded default).
    `split`: the production shape, `temporal server start-dev`, `firebreak worker` and
    `firebreak api` as three processes, so API and worker each get a core's worth of Python.
    `extra_env` goes to the Firebreak processes (the `OTEL_*` of `--tracing`)."""
    from orchestrator.settings import Settings

    resources = demo_resources(data_dir)
    settings = Settings(data_dir=data_dir)
    api_port, temporal_port, temporal_http = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{api_port}"
    temporal = f"127.0.0.1:{temporal_port}"
    env = bench_env(data_dir) | {"FIREBREAK_API_PORT": str(api_port)} | (extra_env or {})
    firebreak = str(VENV_BIN / "firebreak")
    if topology == "all-in-one":
        up = [firebreak, "up", "--temporal-port", str(temporal_port)]
        up.extend(["--temporal-ui-port", str(free_port())])
        async with process(up, env, f"{url}/healthz") as group:
            yield Stack([url], temporal, settings, resources, {"firebreak up": group})
        return
    from orchestrator.runtime.devserver import sqlite_pragma_args
    from orchestrator.runtime.prepare import prepare

    prepare(settings)
    env["FIREBREAK_TEMPORAL_ADDRESS"] = temporal  # an external server: up would start its own
    server = [
        str(VENV_BIN / "temporal"),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(temporal_port),
        "--http-port",
        str(temporal_http),
        "--headless",
        "--db-filename",
        str(data_dir / "temporal.db"),
        *sqlite_pragma_args(),  # as `firebreak up` runs it
    ]
    async with (
        process(server, env, f"http://127.0.0.1:{temporal_http}/api/v1/namespaces/default") as t,
        process([firebreak, "worker"], env, None) as worker,
        process([firebreak, "api"], env, f"{url}/readyz") as api,
    ):
        groups = {"API": api, "worker": worker, "Temporal": t}
        yield Stack([url], temporal, settings, resources, groups)


def demo_resources(data_dir: Path) -> dict[str, str]:
    """Seed the demo lab (the local providers' state) in `data_dir`; the alert's resources."""
    from activities.providers.local.lab import seed_demo_lab

    lab = seed_demo_lab(data_dir)
    return {"api_key": lab.ingest_key, "model": lab.model, "agent": lab.agent,
            "tool": lab.tools[-1]}  # fmt: skip


@contextlib.asynccontextmanager
async def replicated_stack(root: Path, apis: int, workers: int) -> AsyncIterator[Stack]:
    """`apis` API and `workers` worker replicas on a private PostgreSQL cluster and a Temporal
    dev server (tests/e2e/topology.py, as the fault test runs them): each replica has its own
    data dir, with its own copy of the demo lab for the local providers, and they share only
    the key ring file and the database."""
    from orchestrator.settings import Settings
    from tests.e2e.topology import private_postgres, topology

    with (
        private_postgres(root / "pg") as pg,
        topology(
            root / "shape",
            pg.create_database("firebreak"),
            {
                k: v
                for k, v in bench_env(root).items()
                if k.startswith(("FIREBREAK_RATE", "FIREBREAK_ROUTES"))
            }
            | {"FIREBREAK_GUARD_WINDOW_SECONDS": "0"},
            apis=apis,
            workers=workers,
            seed=demo_resources,
        ) as shape,
    ):
        for api in shape.apis:
            await wait_http(f"{api.url}/readyz", api.process)  # type: ignore[arg-type]
        settings = Settings(
            data_dir=shape.root / "operator",
            database_url=shape.database_url,
            keyring_file=shape.keyring,
        )
        postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
        yield Stack(
            [a.url for a in shape.apis],
            shape.temporal.address,
            settings,
            demo_resources(shape.root / "operator"),
            shape.processes(),
            {"PostgreSQL": postmaster},
        )


def source_token(stack: Stack) -> str:
    from orchestrator.db import make_engine
    from orchestrator.domain import Environment, Role
    from orchestrator.principals.service import create_principal

    engine = make_engine(stack.settings.db_url)
    try:
        return create_principal(engine, "bench-detector", Role.source, [Environment.prod])[1]
    finally:
        engine.dispose()


def alert_factory(resources: dict[str, str]) -> Callable[[str, str], dict[str, Any]]:
    """Alerts naming the demo lab's resources, which every playbook parameter resolves from."""

    def make(alert_id: str, fingerprint: str) -> dict[str, Any]:
        return {
            "id": alert_id,
            "type": TYPE,
            "severity": "high",
            "environment": "prod",
            "title": "Prompt injection blocked by guardrail",
            "resources": resources,
            "fingerprint": fingerprint,
        }

    return make


def alertmanager_delivery(resources: dict[str, str], fingerprint: str, i: int) -> dict[str, Any]:
    """One firing alert as Alertmanager's webhook sends it for a Prometheus rule: its labels
    (alertname, severity, namespace, job, instance, model, api_key_id), annotations, its own
    fingerprint, a `startsAt` of its own (so each is a distinct alert, not a resend)."""
    starts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_795_000_000 + i))
    labels = {
        "alertname": "GuardrailInjectionBlocksHigh",
        "severity": "critical",
        "namespace": "llm-prod",
        "job": "llm-guard-exporter",
        "instance": "llm-guard-7d9f8:9100",
        "model": resources.get("model", "support-llm"),
        "api_key_id": resources.get("api_key", "key-support-bot"),
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="GuardrailInjectionBlocksHigh"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "firebreak",
        "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.monitoring:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {
                    "summary": "Guardrail blocked 41 injection attempts in 5m",
                    "description": "rate(llm_guard_blocked_total[5m]) > 0.1",
                    "runbook_url": "https://runbooks.example.com/llm/injection",
                },
                "startsAt": f"{starts}.{i % 1000:03d}123456Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.monitoring:9090/graph?g0.expr=llm_guard",
                "fingerprint": fingerprint,
            }
        ],
    }


def containment_latencies(settings: Any, sent: dict[str, float]) -> tuple[list[float], int]:
    """Seconds from webhook send to the first containment StepSucceeded, per incident."""
    from orchestrator.audit import open_event_store

    store = open_event_store(settings)
    latencies, missing = [], 0
    for incident_id, t0 in sent.items():
        done = [
            e.occurred_at.timestamp()
            for e in store.read_stream(incident_id)
            if e.type == "StepSucceeded" and e.payload.get("phase") == "containment"
        ]
        if done:
            latencies.append(min(done) - t0)
        else:
            missing += 1
    store.engine.dispose()
    return latencies, missing


def opened_incidents(settings: Any, fingerprint: str) -> int:
    from orchestrator.audit import open_event_store

    store = open_event_store(settings)
    count = 0
    cursor: int | None = 0
    while cursor is not None:
        page = store.query(types=["IncidentOpened"], after_position=cursor, limit=1000)
        count += sum(
            1
            for e in page.events
            if str(e.payload.get("correlation_key", "")).endswith(fingerprint)
        )
        cursor = page.next_cursor
    store.engine.dispose()
    return count


# --- phases ------------------------------------------------------------------------------------


async def sustained(url: str | list[str], headers: dict[str, str], make: Any, total: int) -> Load:
    """Duplicates of a few conditions (distinct alert ids): the ingest path, not incident starts."""
    async with pool(url, headers) as http:
        warm = await closed_loop(http, lambda i: make(f"w-{uuid.uuid4()}", "warm"), 50, 8)
        assert warm.accepted, f"warm-up rejected: {warm.statuses}"
        tag = uuid.uuid4().hex[:8]
        return await closed_loop(http, lambda i: make(f"s-{tag}-{i}", f"sus-{i % 4}"), total, 32)


async def sustained_alertmanager(
    url: str | list[str], headers: dict[str, str], resources: dict[str, str], total: int
) -> Load:
    """The sustained phase's load as Alertmanager deliveries through routes: one alert a
    delivery, distinct firings of 4 fingerprints, typed by the run's routes file."""
    tag = uuid.uuid4().hex[:8]
    async with pool(url, headers) as http:
        warm = await closed_loop(
            http, lambda i: alertmanager_delivery(resources, "warm", -1 - i), 50, 8, ALERTMANAGER
        )
        assert warm.accepted, f"warm-up rejected: {warm.statuses}"
        return await closed_loop(
            http,
            lambda i: alertmanager_delivery(resources, f"am-{tag}-{i % 4}", i),
            total,
            32,
            ALERTMANAGER,
        )


async def containment(
    stack: Stack, headers: dict[str, str], make: Any, rate: float, seconds: float
) -> tuple[list[float], int, Load]:
    sent: dict[str, float] = {}
    failed: list[int] = []
    dupes = Load()
    tag = uuid.uuid4().hex[:8]
    # Open loop: a backlog waits for a connection; new incidents and duplicates use separate
    # connections, so only the server's queue is shared between them.
    async with pool(stack.urls, headers) as fresh, pool(stack.urls, headers, 128) as dup_http:

        async def new_incident(i: int) -> None:
            t0 = time.time()
            try:
                status, body = await fresh.post_json(ALERTS, make(f"n-{tag}-{i}", f"n-{tag}-{i}"))
            except OSError:
                failed.append(-1)
                return
            if status != 202:
                failed.append(status)
                return
            for incident_id in incident_ids(json.loads(body)):
                sent.setdefault(incident_id, t0)

        async def duplicate(i: int) -> None:
            await post(dup_http, make(f"d-{tag}-{i}", f"dup-{i % 4}"), dupes)

        started = time.perf_counter()
        await asyncio.gather(paced(rate, seconds, new_incident), paced(200, seconds, duplicate))
        dupes.seconds = time.perf_counter() - started
    assert not failed, f"{len(failed)} new-incident alerts were not accepted: statuses {failed}"
    deadline = time.monotonic() + CONTAINMENT_WAIT
    while True:  # a backlog may still be draining: wait for it, up to a limit
        latencies, missing = containment_latencies(stack.settings, sent)
        if not missing or time.monotonic() > deadline:
            return latencies, missing, dupes
        await asyncio.sleep(2)


def incident_ids(body: dict[str, Any]) -> list[str]:
    return [str(i) for i in body.get("incidents", [])]


async def storm(stack: Stack, headers: dict[str, str], make: Any, total: int) -> tuple[Load, int]:
    fingerprint = f"storm-{uuid.uuid4().hex[:8]}"
    async with pool(stack.urls, headers) as http:
        load = await closed_loop(http, lambda i: make(f"{fingerprint}-{i}", fingerprint), total, 48)
    return load, opened_incidents(stack.settings, fingerprint)


async def bare_baseline(total: int) -> Load:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "bench.ingest:bare_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    url = f"http://127.0.0.1:{port}"
    async with process(args, dict(os.environ), f"{url}/healthz") as group:
        make = alert_factory({})
        return await measured(sustained(url, {}, make, total), {"bare endpoint": group})


async def trivial_workflow(temporal: str, paced_seconds: float) -> tuple[float, float, list[float]]:
    client = await Client.connect(temporal)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[TrivialWorkflow], activities=[noop]):
        started = time.perf_counter()
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    TrivialWorkflow.run, str(i), id=f"{queue}-{i}", task_queue=queue
                )
                for i in range(400)
            )
        )
        start_rate = 400 / (time.perf_counter() - started)
        await asyncio.gather(*(h.result() for h in handles))
        completion_rate = 400 / (time.perf_counter() - started)
        latencies: list[float] = []

        async def one(i: int) -> None:
            t0 = time.perf_counter()
            await client.execute_workflow(
                TrivialWorkflow.run, str(i), id=f"{queue}-paced-{i}", task_queue=queue
            )
            latencies.append(time.perf_counter() - t0)

        await paced(10, paced_seconds, one)
    return start_rate, completion_rate, latencies


# --- main --------------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 1024 / 1024:.1f} GiB RAM"
    return (
        f"{os.cpu_count()} cores ({model}){mem}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def compile_bytecode() -> None:
    """Compile Firebreak's modules, as installing a wheel does. With an editable install under
    PYTHONDONTWRITEBYTECODE (these machines) nothing is cached, and the workflow sandbox, which
    imports the workflow module afresh for every new incident, would compile it each time."""
    packages = [str(ROOT / name) for name in ("orchestrator", "workflows", "activities")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True)
    print("bytecode: compiled first with compileall, as a wheel install does")


async def phases(
    stack: Stack, bare: Load, sustained_total: int, phase_seconds: float, storm_total: int
) -> Load:
    """Phases 1 to 3 on `stack`; its sustained-ingest load (with the CPU each process spent)."""
    make = alert_factory(stack.resources)
    headers = {"Authorization": f"Bearer {source_token(stack)}"}

    idle = await measured(at_rest(IDLE_SECONDS), stack.groups, stack.trees)
    print("1. sustained ingest (32 concurrent senders, duplicates of 4 conditions)")
    print("  " + bare.line("bare FastAPI endpoint (baseline)"))
    # In halves, generic / alertmanager / alertmanager / generic, each after a pause for the
    # previous one's backlog: neither inherits the other's, and a drift of the machine's load
    # over the phase weighs on both alike.
    half = sustained_total // 2
    ours, routed = Load(), Load()
    for target, phase in (
        (ours, sustained(stack.urls, headers, make, half)),
        (routed, sustained_alertmanager(stack.urls, headers, stack.resources, half)),
        (routed, sustained_alertmanager(stack.urls, headers, stack.resources, half)),
        (ours, sustained(stack.urls, headers, make, half)),
    ):
        await asyncio.sleep(SETTLE_SECONDS)
        target.add(await measured(phase, stack.groups, stack.trees))
    ours.idle = idle
    print("  " + ours.line("POST /v1/alerts/generic"))
    print("  " + routed.line("alertmanager, through routes"))
    generic_rate = ours.accepted / ours.seconds if ours.seconds else 0.0
    routed_rate = routed.accepted / routed.seconds if routed.seconds else 0.0
    ratio = routed_rate / generic_rate if generic_rate else 0.0
    print(f"  alertmanager / generic: {ratio:.2f}x (target >= 0.8x)")
    print("  CPU per accepted request: " + bare.cpu_line())
    print("                            " + ours.cpu_line() + "  (generic)")
    print("                            " + routed.cpu_line() + "  (alertmanager)")
    print(
        f"  all firebreak processes: {ours.firebreak_cpu():.2f} ms per accepted alert, "
        f"{ours.firebreak_cpu(idle):.2f} ms less their CPU at rest "
        f"({sum(v for k, v in idle.cpu.items() if _is_firebreak(k)) / IDLE_SECONDS * 1000:.0f}"
        f" ms/s over {IDLE_SECONDS:.0f} s idle)"
    )

    print("\n2. webhook -> first containment step completed, with 200 duplicates/s")
    for rate in (2, 5, 10):
        latencies, missing, dupes = await containment(stack, headers, make, rate, phase_seconds)
        print(
            f"  {rate:>2} new incidents/s: n={len(latencies):<4} p50 "
            f"{ms(pct(latencies, 0.5)):>8}  p99 {ms(pct(latencies, 0.99)):>8}"
            f"  not contained {CONTAINMENT_WAIT:.0f}s after the phase: {missing}"
            f"\n      duplicates offered at 200/s: {dupes.line('')}"
        )

    print(f"\n3. storm: {storm_total} alerts, one fingerprint, 48 concurrent senders")
    load, opened = await storm(stack, headers, make, storm_total)
    print("  " + load.line("storm"))
    print(f"  incidents opened: {opened} (must be 1)")
    return ours


async def main(args: argparse.Namespace) -> None:
    scale = 0.3 if args.quick else 1.0
    sustained_total = int(6000 * scale)
    phase_seconds = 20 * scale
    storm_total = 2000 if args.quick else args.storm
    print(f"machine: {machine()}")
    compile_bytecode()
    flags = f" --topology {args.topology}" + (" --quick" if args.quick else "")
    flags += " --tracing" if args.tracing else ""
    print(f"reproduce: .venv/bin/python bench/ingest.py{flags}")
    print("(client, API, worker and Temporal dev server share this machine)\n")

    bare = await bare_baseline(sustained_total)
    counts = (sustained_total, phase_seconds, storm_total)
    with tempfile.TemporaryDirectory(prefix="fb-bench-") as tmp:
        if args.topology == "scaled":
            await scaled(Path(tmp), bare, counts)
            return
        if args.tracing:
            await traced(Path(tmp), bare, counts)
            return
        async with firebreak_stack(Path(tmp) / "data", args.topology) as stack:
            await phases(stack, bare, *counts)
            print("\n4. trivial workflow, one activity, same Temporal server (baseline)")
            starts, completions, paced_latencies = await trivial_workflow(
                stack.temporal, phase_seconds
            )
            print(f"  400 at once: {starts:.0f} starts/s, {completions:.0f} completions/s")
            print(
                f"  paced 10/s: start->result p50 {ms(statistics.median(paced_latencies))}"
                f"  p99 {ms(pct(paced_latencies, 0.99))}"
            )


async def scaled(root: Path, bare: Load, counts: tuple[int, float, int]) -> None:
    """The split shape (one API, one worker) and the scaled one (two of each), both on
    PostgreSQL, one after the other in this run: what coordinating replicas through the
    database costs per alert."""
    loads = {}
    for name, replicas in (("split", 1), ("scaled", 2)):
        print(f"=== {name}: {replicas} API + {replicas} worker on PostgreSQL ===")
        async with replicated_stack(root / name, replicas, replicas) as stack:
            loads[name] = await phases(stack, bare, *counts)
        print()
    for label, net in (("", False), (", less CPU at rest", True)):
        split, wide = (
            loads[n].firebreak_cpu(loads[n].idle if net else None) for n in ("split", "scaled")
        )
        print(
            f"CPU per accepted alert, all firebreak processes{label}: split {split:.2f} ms, "
            f"scaled {wide:.2f} ms ({(wide / split - 1) * 100:+.0f}%)"
        )


async def traced(root: Path, bare: Load, counts: tuple[int, float, int]) -> None:
    """`--tracing`: three split stacks side by side: tracing off, on with every request
    sampled, and on with 10 % sampled (spans exported over OTLP/HTTP protobuf to a receiver
    in this process that decodes them, tests/support/otlp.py). All run at once and take the
    load in turn (sustained ingest in halves off / on / sampled / sampled / on / off, then new
    incidents at 5/s among 200 duplicates/s in the same order), so a drift of the machine's
    speed weighs on each alike; then the ratios to off."""
    from tests.support.otlp import otlp_receiver

    sustained_total, phase_seconds, _ = counts
    rate, half = 5, sustained_total // 2
    print("  " + bare.line("bare FastAPI endpoint (baseline)"))
    with otlp_receiver() as receiver:
        modes = {
            "off": {"OTEL_SDK_DISABLED": "true"},
            "on": {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SDK_DISABLED": "false"},
            "on, 10% sampled": {
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_SDK_DISABLED": "false",
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "0.1",
            },
        }
        async with contextlib.AsyncExitStack() as stacks:
            running = {
                name: await stacks.enter_async_context(
                    firebreak_stack(root / f"stack-{i}" / "data", "split", env)
                )
                for i, (name, env) in enumerate(modes.items())
            }
            headers = {
                n: {"Authorization": f"Bearer {source_token(s)}"} for n, s in running.items()
            }
            loads = {name: Load() for name in modes}
            contained: dict[str, list[float]] = {name: [] for name in modes}
            order = (*modes, *reversed(modes))
            for name in order:
                stack = running[name]
                await asyncio.sleep(SETTLE_SECONDS)
                make = alert_factory(stack.resources)
                phase = sustained(stack.urls, headers[name], make, half)
                loads[name].add(await measured(phase, stack.groups))
            for name in order:
                stack = running[name]
                await asyncio.sleep(SETTLE_SECONDS)
                make = alert_factory(stack.resources)
                latencies, missing, _ = await containment(
                    stack, headers[name], make, rate, phase_seconds / 2
                )
                assert not missing, f"tracing {name}: {missing} incidents not contained"
                contained[name] += latencies
        for name in modes:
            print(f"=== tracing {name} ===")
            print("  " + loads[name].line("sustained POST /v1/alerts/generic"))
            print("  CPU per accepted request: " + loads[name].cpu_line())
            latencies = contained[name]
            print(
                f"  webhook -> containment at {rate} new incidents/s: n={len(latencies)} "
                f"p50 {ms(pct(latencies, 0.5))}  p99 {ms(pct(latencies, 0.99))}"
            )
        print(f"spans received: {len(receiver.received())} in {receiver.requests} exports")
    off = loads["off"]
    for name in ("on", "on, 10% sampled"):
        on = loads[name]
        rate_off, rate_on = (x.accepted / x.seconds if x.seconds else 0.0 for x in (off, on))
        cpu_off, cpu_on = off.firebreak_cpu(), on.firebreak_cpu()
        print(f"\ntracing {name} / off:")
        print(f"  sustained alerts/s accepted: {rate_on / rate_off:.2f}x")
        print(f"  sustained p50 latency: {pct(on.latencies, 0.5) / pct(off.latencies, 0.5):.2f}x")
        print(
            f"  CPU per accepted alert, firebreak processes: {cpu_on / cpu_off:.2f}x"
            f" ({cpu_off:.2f} -> {cpu_on:.2f} ms)"
        )
        p50 = pct(contained[name], 0.5) / pct(contained["off"], 0.5)
        print(f"  webhook -> containment p50: {p50:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases, 2,000-alert storm")
    parser.add_argument(
        "--topology",
        choices=("split", "all-in-one", "scaled"),
        default="split",
        help="split: API, worker and Temporal as three processes (production); "
        "all-in-one: `firebreak up`; scaled: 2 APIs + 2 workers on PostgreSQL beside "
        "1 + 1 on PostgreSQL",
    )
    parser.add_argument("--storm", type=int, default=10_000, help="alerts in the storm phase")
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="the split shape with OpenTelemetry tracing off, then on (to a loopback OTLP "
        "receiver): sustained ingest and containment latency, with the ratios",
    )
    asyncio.run(main(parser.parse_args()))
