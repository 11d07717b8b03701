"""The fault drill of issue #16: incidents driven through two APIs onto two workers while every
kind of process is killed or restarted, then counted.

`run_drill` is the whole drill; `tests/e2e/test_faults.py` runs it short inside the suite and
`bench/faults.py` runs it long and prints its `Report`. The drill acts as the people around
Firebreak do:

- **detectors** post each alert with a `webhook-id` and retry a 5xx, a 429, a reset connection
  or a timeout with the same id and body, at the other API when one does not answer (a load
  balancer's behaviour); one follow-up in five first gives up on its answer after 5 ms, so its
  retry may meet an alert the API went on to record; every attempt's answer is kept;
- **responders** approve the quarantine of each incident with a decision id of their own and,
  like the CLI, follow a 202 until it lands, and send the same decision again on a 5xx or a
  404 (Temporal lost it);
- the **faults**, one after the other while alerts and decisions are in flight: SIGKILL of a
  worker, SIGKILL of an API, the Temporal dev server stopped and started on its file,
  PostgreSQL restarted.

Every incident runs the same user playbook (`PLAYBOOK`): revoke the ingest key (containment),
verify the dataset, quarantine the poisoned version after one approval, retrain from the clean
one. Two incidents name the same key and are opened through different APIs, the first while
worker-1 runs alone, the second once worker-1 was killed and worker-2 is the only one: the
resource guard must let exactly one of them revoke it, across workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError

from orchestrator.errors import FirebreakError
from tests.e2e.effects import Effects, effect_servers
from tests.e2e.topology import PrivatePostgres, Topology, private_postgres, topology

PLAYBOOK = """\
id: data-poisoning
title: Training-data poisoning (fault drill)
description: Revoke the ingest key, quarantine the poisoned version once approved, retrain.
alert_types: [data_poisoning]
phases:
  - name: containment
    steps:
      - id: revoke-ingest-key
        action: keys.revoke
        params: {key_id: "{{ alert.resources.api_key }}"}
  - name: investigation
    steps:
      - id: verify-dataset
        action: datasets.verify
        params:
          dataset: "{{ alert.resources.dataset }}"
          version: "{{ alert.resources.dataset_version }}"
  - name: eradication
    steps:
      - id: quarantine-dataset
        action: datasets.quarantine
        params:
          dataset: "{{ alert.resources.dataset }}"
          version: "{{ alert.resources.dataset_version }}"
        approval:
          default: {mode: one, deadline_seconds: 3600, escalate_to: ml-oncall, on_timeout: escalate}
  - name: recovery
    steps:
      - id: retrain
        action: retraining.run
        params: {model: "{{ alert.resources.model }}", dataset: "{{ alert.resources.dataset }}"}
"""
APPROVED_STEP = "quarantine-dataset"
STEPS = ("revoke-ingest-key", "verify-dataset", APPROVED_STEP, "retrain")
RETRY_STATUSES = {429, 500, 502, 503, 504}
IMPATIENT = httpx.Timeout(15, read=0.005)
QUIET_SECONDS = 15
"""Longer than the gap between two follow-ups of one incident: an incident that closed while
its detector still alerts would be reopened as a new one, which the drill does not follow."""


@dataclass
class Scale:
    """How much the drill does: the suite's short run or bench/faults.py's long one."""

    incidents: int = 4
    """Incidents of their own key, besides the two that share one."""
    followups_per_second: float = 4.0
    """Follow-up alerts per second on open incidents, sent while the faults happen."""
    settle_seconds: float = 240.0
    """How long every incident may take to close after the last fault."""


@dataclass
class Incident:
    name: str
    key: str
    dataset: str
    model: str
    via: int
    """Index of the API its first alert goes to."""
    incident_id: str | None = None
    approved: bool = False


@dataclass
class Delivery:
    alert_id: str
    webhook_id: str
    body: dict[str, Any]
    answers: list[str] = field(default_factory=list)
    """Each attempt's answer: a status code or the transport error's class name."""
    incident_id: str | None = None

    @property
    def accepted(self) -> bool:
        return bool(self.answers) and self.answers[-1] == "202"

    @property
    def retried_after_failure(self) -> bool:
        return len(self.answers) > 1


@dataclass
class Report:
    timeline: list[str] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    decisions: dict[str, list[str]] = field(default_factory=dict)
    incidents: list[Incident] = field(default_factory=list)
    closed: dict[str, bool] = field(default_factory=dict)
    resolved_again: int = 0
    blocks: Counter[str] = field(default_factory=Counter)
    runs: Counter[str] = field(default_factory=Counter)
    s3_writes: Counter[str] = field(default_factory=Counter)
    alerts_in_ledger: Counter[str] = field(default_factory=Counter)
    event_ids: Counter[str] = field(default_factory=Counter)
    positions: list[int] = field(default_factory=list)
    stops: dict[str, str] = field(default_factory=dict)
    """Replica -> how it ended on SIGTERM at the end: exit code and seconds."""
    verify_exit: int | None = None
    verify_output: str = ""
    contained_by: dict[str, str] = field(default_factory=dict)
    """Incident name -> the worker that completed its first workflow task, where containment
    (the revoke, a local activity) runs: the shared key's two revokes on two workers is the
    guard tested across workers."""
    step_runs: dict[str, Counter[str]] = field(default_factory=dict)
    """Incident name -> StepSucceeded events per step id in its stream."""
    guard_holders: dict[str, list[str]] = field(default_factory=dict)
    """Incident name -> for each time its revoke step succeeded, the incident the guard said
    held the key (empty when this incident revoked it)."""
    started: float = field(default_factory=time.monotonic)

    def note(self, what: str) -> None:
        self.timeline.append(f"{time.monotonic() - self.started:7.1f}s  {what}")


class Sender:
    """A detector: posts deliveries, retrying a failed attempt at the next API."""

    def __init__(self, shape: Topology, token: str) -> None:
        self.shape = shape
        self.headers = {"Authorization": f"Bearer {token}"}
        self.clients = [httpx.Client(timeout=15) for _ in shape.apis]

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def send(
        self, delivery: Delivery, via: int, deadline: float, *, impatient: bool = False
    ) -> None:
        """`impatient`: the first attempt gives up reading the answer after 5 ms, as a sender
        behind a short proxy timeout does, although the API goes on to record the alert."""
        for attempt in itertools.count():
            index = (via + attempt) % len(self.clients)
            api = self.shape.apis[index]
            try:
                response = self.clients[index].post(
                    f"{api.url}/v1/alerts/generic",
                    json=delivery.body,
                    headers=self.headers | {"webhook-id": delivery.webhook_id},
                    timeout=IMPATIENT if impatient and attempt == 0 else httpx.USE_CLIENT_DEFAULT,
                )
                delivery.answers.append(str(response.status_code))
                if response.status_code == 202:
                    ids = response.json()["incidents"]
                    delivery.incident_id = ids[0] if ids else None
                    return
                if response.status_code not in RETRY_STATUSES:
                    return
            except httpx.TransportError as exc:
                delivery.answers.append(type(exc).__name__)
            if time.monotonic() > deadline:
                return
            time.sleep(0.5 + random.random() / 2)  # jitter, as senders do


class Responder:
    """Approves a step as the CLI does: one decision id, followed until it is applied."""

    def __init__(self, shape: Topology, token: str) -> None:
        self.shape = shape
        self.headers = {"Authorization": f"Bearer {token}"}

    def waiting(self, via: int) -> dict[str, str]:
        """incident id -> step id of every step waiting for a decision (empty on any error)."""
        api = self.shape.apis[via % len(self.shape.apis)]
        try:
            r = httpx.get(f"{api.url}/v1/approvals", headers=self.headers, timeout=10)
        except httpx.TransportError:
            return {}
        if r.status_code != 200:
            return {}
        return {p["incident_id"]: p["step_id"] for p in r.json()["items"]}

    def resolve_reopened(self, incident_id: str, via: int) -> bool:
        """Resolve an incident that a follow-up alert reopened after its playbook finished, as
        its responder would (`on_reopen: responder`); True once the API applied it."""
        api = self.shape.apis[via % len(self.shape.apis)]
        base = f"{api.url}/v1/incidents/{incident_id}"
        try:
            shown = httpx.get(base, headers=self.headers, timeout=10)
            if shown.status_code != 200 or shown.json().get("status") != "open":
                return False
            if not shown.json().get("reopened_count"):
                return False
            body = {"reason": "drill: the follow-ups were the same attack, already contained"}
            done = httpx.post(f"{base}/resolve", json=body, headers=self.headers, timeout=15)
        except httpx.TransportError:
            return False
        return done.status_code == 200

    def approve(self, incident_id: str, step: str, via: int, deadline: float) -> list[str]:
        decision_id = f"drill-{uuid.uuid4().hex[:10]}"
        path = f"/v1/incidents/{incident_id}/steps/{step}/decisions"
        answers: list[str] = []
        send = True
        for attempt in itertools.count():
            api = self.shape.apis[(via + attempt) % len(self.shape.apis)]
            try:
                if send:
                    body = {"decision": "approve", "decision_id": decision_id}
                    r = httpx.post(api.url + path, json=body, headers=self.headers, timeout=15)
                else:
                    r = httpx.get(
                        f"{api.url}{path}/{decision_id}", headers=self.headers, timeout=15
                    )
                answers.append(f"{'POST' if send else 'GET'} {r.status_code}")
                if r.status_code == 200 and r.json().get("state") == "applied":
                    return answers
                # 202: held, follow it; 404 (lost) or 5xx: send the same decision again.
                send = r.status_code != 202
                if r.status_code in (403, 409, 422):
                    return answers
            except httpx.TransportError as exc:
                answers.append(type(exc).__name__)
                send = True
            if time.monotonic() > deadline:
                return answers
            time.sleep(1)
        raise AssertionError("unreachable")


def _alert(incident: Incident, alert_id: str) -> dict[str, Any]:
    return {
        "id": alert_id,
        "type": "data_poisoning",
        "severity": "high",
        "environment": "prod",
        "title": f"Poisoned rows in {incident.dataset}",
        "fingerprint": f"drill-{incident.name}",
        "resources": {
            "api_key": incident.key,
            "dataset": incident.dataset,
            "dataset_version": "v2",
            "model": incident.model,
        },
    }


def _delivery(incident: Incident, n: int) -> Delivery:
    alert_id = f"{incident.name}-a{n}"
    return Delivery(alert_id, f"msg_{uuid.uuid4().hex}", _alert(incident, alert_id))


@contextlib.contextmanager
def _background(work: Callable[[], None]) -> Iterator[None]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # surfaced in the caller's thread below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(timeout=300)
        if errors:
            raise errors[0]


def _wait(check: Callable[[], bool], seconds: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def _principals(database_url: str) -> tuple[str, str, str]:
    """Tokens of a prod detector, a prod responder and an auditor."""
    from orchestrator.db import make_engine
    from orchestrator.domain import Environment, Role
    from orchestrator.principals.service import create_principal

    engine = make_engine(database_url)
    try:
        return (
            create_principal(engine, "drill-detector", Role.source, [Environment.prod])[1],
            create_principal(engine, "drill-responder", Role.responder, [Environment.prod])[1],
            create_principal(engine, "drill-auditor", Role.auditor, [])[1],
        )
    finally:
        engine.dispose()


def shared_settings(root: Path, effects: Effects) -> dict[str, str]:
    """Every replica's settings besides its own data dir and port: the providers, the drill's
    playbook (a copy in each replica's directory would do as well; it is read-only), a
    rate limit no detector here reaches, and incidents that close `QUIET_SECONDS` after their
    last alert once recovered."""
    playbooks = root / "playbooks"
    playbooks.mkdir(parents=True, exist_ok=True)
    (playbooks / "data-poisoning.yaml").write_text(PLAYBOOK)
    return effects.env() | {
        "FIREBREAK_TASK_QUEUE": "faults",
        "FIREBREAK_PLAYBOOKS_DIR": str(playbooks),
        "FIREBREAK_INCIDENT_QUIET_SECONDS": str(QUIET_SECONDS),
        "FIREBREAK_RATE_LIMIT_PER_MINUTE": "100000",
        "FIREBREAK_PROVIDER_TIMEOUT_SECONDS": "10",
    }


def run_drill(root: Path, scale: Scale) -> Report:
    """Build the shape, drive it through the faults, and count what landed."""
    report = Report()
    with private_postgres(root / "pg") as pg, effect_servers(root / "effects") as effects:
        database_url = pg.create_database("firebreak")
        report.note(f"PostgreSQL (private cluster) on port {pg.port}; moto, gateway, pipeline up")
        with topology(root / "shape", database_url, shared_settings(root, effects)) as shape:
            report.note("2 APIs and 2 workers started, each in its own data dir")
            _drive(shape, pg, effects, scale, report)
            _count(shape, database_url, effects, report)
            for replica in [*shape.apis, *shape.workers]:
                started = time.monotonic()
                replica.stop()
                assert replica.process is not None
                took = time.monotonic() - started
                report.stops[replica.name] = f"exit {replica.process.returncode} in {took:.1f}s"
    return report


def _drive(
    shape: Topology, pg: PrivatePostgres, effects: Effects, scale: Scale, report: Report
) -> None:
    detector, responder_token, _ = _principals(shape.database_url)
    tag = uuid.uuid4().hex[:6]
    shared_key = f"key-shared-{tag}"
    incidents = [
        Incident(f"s{n}-{tag}", shared_key, f"ds-s{n}-{tag}", f"model-s{n}-{tag}", via=n)
        for n in range(2)
    ] + [
        Incident(f"i{n}-{tag}", f"key-{n}-{tag}", f"ds-{n}-{tag}", f"model-{n}-{tag}", via=n % 2)
        for n in range(scale.incidents)
    ]
    report.incidents = incidents
    for incident in incidents:
        effects.gateway.keys[incident.key] = {"blocked": False, "spend": 0.0, "last_active": None}
        effects.add_dataset(incident.dataset, ["v1", "v2"])
    first, second = incidents[:2]
    half = 2 + scale.incidents // 2
    wave1, wave2 = [first, *incidents[2:half]], incidents[half:]
    deadline = time.monotonic() + 600
    worker1, worker2 = shape.workers

    # Wave 1 lands on worker-1 alone: worker-2 joins later, as a scale-out does. Its
    # incidents are opened at once; each delivery is sent again at once to the other API (a
    # sender's blind retry).
    worker2.stop()
    report.note(f"{worker2.name} stopped before wave 1; only {worker1.name} runs")
    _open_all(shape, detector, wave1, report, deadline)
    report.note(f"wave 1: {len(wave1)} incidents opened at once, each delivery sent twice")
    approver = Approver(Responder(shape, responder_token), incidents, report)
    streamer = Streamer(
        Sender(shape, detector), wave1, scale.followups_per_second, report, deadline
    )
    with approver.running(), streamer.running():
        _wait(lambda: all(effects.gateway.keys[i.key]["blocked"] for i in wave1), 60)
        report.note("wave 1 contained: every key blocked at the gateway")
        worker2.start()
        _wait(lambda: worker2.log.read_text().count("worker on") >= worker2.starts, 60)
        time.sleep(2)  # its pollers reach the server
        report.note(f"{worker2.name} started (pid {worker2.pid})")
        _wait(lambda: any(effects.pipeline.runs) or time.monotonic() > deadline, 30)
        report.note(f"retraining runs started: {len(effects.pipeline.runs)}")
        worker1.kill()
        report.note(f"SIGKILL {worker1.name} (pid {worker1.pid}) with work in flight")
        # The shared key's second incident, through the other API, can only run on worker-2:
        # the guard must see the claim worker-1 made for the first.
        _open_all(shape, detector, [second], report, deadline)
        streamer.add(second)
        report.note(f"{second.name} opened on the shared key through {shape.apis[1].name}")
        time.sleep(1)
        api = shape.apis[0]
        api.kill()
        report.note(f"SIGKILL {api.name} (pid {api.pid}) while detectors send")
        _open_all(shape, detector, wave2, report, deadline)
        for incident in wave2:
            streamer.add(incident)
        report.note(f"wave 2: {len(wave2)} incidents opened while {api.name} is down")
        time.sleep(2)
        api.start()
        report.note(f"{api.name} started again (pid {api.pid})")
        worker1.start()
        report.note(f"{worker1.name} started again (pid {worker1.pid})")
        shape.temporal.stop()
        report.note("Temporal dev server stopped")
        time.sleep(3)
        shape.temporal.start()
        report.note("Temporal dev server started again on its file")
        time.sleep(2)
        pg.restart()
        report.note("PostgreSQL restarted (pg_ctl restart -m fast)")
        time.sleep(3)
        streamer.stop()
        report.note(f"follow-up alerts stopped; {streamer.sent} sent while the faults happened")
        settle = time.monotonic() + scale.settle_seconds
        _wait(lambda: _revive(shape, report) and all(i.approved for i in incidents),
              scale.settle_seconds, step=1)  # fmt: skip
        report.note(f"{sum(i.approved for i in incidents)}/{len(incidents)} quarantines approved")

    def all_closed() -> bool:
        report.closed = _closed(shape, incidents)
        for n, incident in enumerate(incidents):
            reopened = not report.closed[incident.name] and incident.incident_id is not None
            if reopened and approver.responder.resolve_reopened(str(incident.incident_id), n):
                report.resolved_again += 1
        return all(report.closed.values())

    _wait(all_closed, max(settle - time.monotonic(), 10), step=2)
    report.note(
        f"{sum(report.closed.values())}/{len(incidents)} incidents closed"
        f" ({report.resolved_again} resolved again by a responder after a follow-up reopened it)"
    )


def _revive(shape: Topology, report: Report) -> bool:
    """Start again any replica that exited on its own, as a process supervisor would (a
    replica that cannot reach the database or Temporal at start exits 2 for that reason),
    and say so in the timeline with the last line it logged. Always true."""
    for replica in [*shape.apis, *shape.workers]:
        if replica.process is not None and not replica.running():
            lines = replica.log.read_text(errors="replace").strip().splitlines()
            report.note(
                f"{replica.name} had exited {replica.process.returncode} "
                f"({lines[-1] if lines else 'no output'}); started again"
            )
            replica.start()
    return True


def _open_all(
    shape: Topology, detector: str, incidents: list[Incident], report: Report, deadline: float
) -> None:
    """Open `incidents` at once, one detector each."""
    openers = [
        threading.Thread(target=_open, args=(Sender(shape, detector), i, report, deadline))
        for i in incidents
    ]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join(timeout=120)


def _open(sender: Sender, incident: Incident, report: Report, deadline: float) -> None:
    """An incident's first alert, and the same delivery again at the other API."""
    delivery = _delivery(incident, 0)
    sender.send(delivery, incident.via, deadline)
    incident.incident_id = delivery.incident_id
    twin = Delivery(delivery.alert_id, delivery.webhook_id, delivery.body)
    sender.send(twin, incident.via + 1, deadline)
    report.deliveries += [delivery, twin]
    sender.close()


class Looping:
    """A background loop of `step` until stopped; an error in it fails the drill."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def step(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """After the last step, in the loop's thread."""

    def stop(self) -> None:
        self._stop.set()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        def loop() -> None:
            while not self._stop.is_set():
                self.step()
            self.close()

        with _background(loop):
            try:
                yield
            finally:
                self.stop()


class Streamer(Looping):
    """Detectors that keep alerting on open incidents, alternating APIs, while faults happen."""

    def __init__(
        self, sender: Sender, incidents: list[Incident], per_second: float, report: Report,
        deadline: float,
    ) -> None:  # fmt: skip
        super().__init__()
        self.sender, self.incidents, self.report = sender, list(incidents), report
        self.pause, self.deadline, self.sent = 1 / per_second, deadline, 0

    def add(self, incident: Incident) -> None:
        self.incidents.append(incident)

    def step(self) -> None:
        incident = self.incidents[self.sent % len(self.incidents)]
        delivery = _delivery(incident, self.sent + 1)
        self.report.deliveries.append(delivery)
        self.sender.send(delivery, self.sent, self.deadline, impatient=self.sent % 5 == 4)
        self.sent += 1
        time.sleep(self.pause)

    def close(self) -> None:
        self.sender.close()


class Approver(Looping):
    """A responder who approves every quarantine waiting for a decision, as soon as it shows."""

    def __init__(self, responder: Responder, incidents: list[Incident], report: Report) -> None:
        super().__init__()
        self.responder, self.incidents, self.report = responder, incidents, report
        self.turn = 0

    def step(self) -> None:
        self.turn += 1
        _approve_waiting(
            self.responder, self.incidents, self.report, self.turn, time.monotonic() + 120
        )
        if all(i.approved for i in self.incidents):
            self.stop()
        time.sleep(1)


def _approve_waiting(
    responder: Responder, incidents: list[Incident], report: Report, via: int, deadline: float
) -> None:
    waiting = responder.waiting(via)
    for n, incident in enumerate(incidents):
        step = waiting.get(incident.incident_id or "")
        if incident.approved or step != APPROVED_STEP:
            continue
        assert incident.incident_id is not None
        answers = responder.approve(incident.incident_id, step, via + n, deadline)
        report.decisions[incident.incident_id] = answers
        incident.approved = bool(answers) and answers[-1].endswith(" 200")


def _store(database_url: str, shape: Topology) -> Any:
    from orchestrator.audit import open_event_store
    from orchestrator.settings import Settings

    settings = Settings(
        data_dir=shape.root / "operator", database_url=database_url, keyring_file=shape.keyring
    )
    return open_event_store(settings)


def _closed(shape: Topology, incidents: list[Incident]) -> dict[str, bool]:
    store = _store(shape.database_url, shape)
    try:
        return {
            i.name: i.incident_id is not None
            and any(e.type == "IncidentClosed" for e in store.read_stream(i.incident_id))
            for i in incidents
        }
    except (FirebreakError, SQLAlchemyError):  # the database restarting: not closed yet
        return {i.name: False for i in incidents}
    finally:
        store.engine.dispose()


def _count(shape: Topology, database_url: str, effects: Effects, report: Report) -> None:
    report.blocks = Counter(effects.gateway.blocks)
    report.runs = Counter(effects.pipeline.created)
    report.s3_writes = effects.writes_under("quarantine/") + effects.writes_under("datasets/")
    store = _store(database_url, shape)
    try:
        for event in store.read_all():
            report.positions.append(event.position)
            report.event_ids[event.id] += 1
            if event.type == "AlertReceived":
                report.alerts_in_ledger[str(event.payload.get("alert_id"))] += 1
        for incident in report.incidents:
            if incident.incident_id is None:
                continue
            succeeded = [
                e for e in store.read_stream(incident.incident_id) if e.type == "StepSucceeded"
            ]
            report.step_runs[incident.name] = Counter(str(e.payload["step_id"]) for e in succeeded)
            report.guard_holders[incident.name] = [
                str(e.payload.get("result", {}).get("outputs", {}).get("guarded_by", ""))
                for e in succeeded
                if e.payload.get("step_id") == "revoke-ingest-key"
            ]
    finally:
        store.engine.dispose()
    report.contained_by = asyncio.run(_first_task_workers(shape, report.incidents))
    verify = shape.cli("audit", "verify")
    report.verify_exit = verify.returncode
    report.verify_output = (verify.stdout + verify.stderr).strip()
    report.note(f"audit verify exit {verify.returncode}")


async def _first_task_workers(shape: Topology, incidents: list[Incident]) -> dict[str, str]:
    """Incident name -> the replica whose worker identity (`pid@host`, the SDK's default)
    completed the incident's first workflow task, read from its Temporal history."""
    from temporalio.client import Client

    from orchestrator.temporal.incidents import parse_incident_id

    names = {pid: w.name for w in shape.workers for pid in w.pids}
    client = await Client.connect(shape.temporal.address)
    found: dict[str, str] = {}
    for incident in incidents:
        if incident.incident_id is None:
            continue
        workflow_id, run_id = parse_incident_id(incident.incident_id)
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        for event in history.events:
            if event.HasField("workflow_task_completed_event_attributes"):
                identity = event.workflow_task_completed_event_attributes.identity
                pid = identity.split("@", 1)[0]
                found[incident.name] = names.get(int(pid) if pid.isdigit() else -1, identity)
                break
    return found


def problems(report: Report) -> list[str]:
    """Everything the drill must find true, as the list of what was not (empty: all held)."""
    found: list[str] = []
    names = {i.name: i for i in report.incidents}
    for name, closed in report.closed.items():
        if not closed:
            found.append(f"incident {name} ({names[name].incident_id}) did not reach its end")
    for incident in report.incidents:
        if incident.incident_id is None:
            found.append(f"incident {incident.name} was never opened")
    keys = Counter(i.key for i in report.incidents)
    for key in keys:
        if report.blocks[key] != 1:
            found.append(f"key {key} blocked {report.blocks[key]} times at the gateway (want 1)")
    for incident in report.incidents:
        if report.runs[incident.model] != 1:
            found.append(
                f"{incident.model}: {report.runs[incident.model]} retraining runs (want 1)"
            )
    for path, count in report.s3_writes.items():
        if count != 1:
            found.append(f"S3 {path} written {count} times (want 1)")
    for incident in report.incidents:
        held = f"{'quarantine/'}{incident.dataset}/v2/MANIFEST.json"
        if not any(p.endswith(held) and p.startswith("PUT") for p in report.s3_writes):
            found.append(f"{incident.dataset}@v2 was never quarantined")
    shared = [i for i in report.incidents if i.name.startswith("s")]
    holders = [report.guard_holders.get(i.name, []) for i in shared]
    if sorted(len(h) for h in holders) != [1, 1] or sorted(bool(h[0]) for h in holders) != [
        False,
        True,
    ]:
        found.append(f"the shared key's revokes: guarded by {holders} (want one of each)")
    for incident, other in (shared, shared[::-1]):
        by = (report.guard_holders.get(incident.name) or [""])[0]
        if by and by != other.incident_id:
            found.append(f"{incident.name}'s revoke was held by {by}, not {other.incident_id}")
    workers = [report.contained_by.get(i.name) for i in shared]
    if len(set(workers)) != 2:
        found.append(f"the shared key's incidents were contained by {workers}, not two workers")
    accepted = {d.alert_id for d in report.deliveries if d.accepted}
    for alert_id in sorted(accepted):
        if report.alerts_in_ledger[alert_id] != 1:
            found.append(
                f"alert {alert_id} got 202 but is in the ledger "
                f"{report.alerts_in_ledger[alert_id]} times (want 1)"
            )
    for delivery in report.deliveries:
        if not delivery.accepted:
            found.append(f"alert {delivery.alert_id} never accepted: {delivery.answers}")
    opened = {i.name: i.incident_id for i in report.incidents}
    for delivery in report.deliveries:
        name = delivery.alert_id.rsplit("-a", 1)[0]
        if delivery.accepted and delivery.incident_id != opened.get(name):
            found.append(
                f"alert {delivery.alert_id} went to incident {delivery.incident_id}, "
                f"not {name}'s {opened.get(name)}"
            )
    answered: dict[str, set[str | None]] = {}
    for delivery in report.deliveries:
        if delivery.accepted:
            answered.setdefault(delivery.webhook_id, set()).add(delivery.incident_id)
    for webhook_id, incident_ids in answered.items():
        if len(incident_ids) != 1:
            found.append(f"delivery {webhook_id} answered with incidents {incident_ids}")
    for name, steps in report.step_runs.items():
        if steps != Counter(STEPS):
            found.append(f"incident {name}: StepSucceeded per step {dict(steps)} (want 1 each)")
    twice = [event_id for event_id, n in report.event_ids.items() if n != 1]
    if twice:
        found.append(f"{len(twice)} audit event ids appear more than once: {twice[:3]}")
    if report.positions != list(range(1, len(report.positions) + 1)):
        gaps = sorted(set(range(1, max(report.positions, default=0) + 1)) - set(report.positions))
        found.append(f"audit positions not gap-free from 1: missing {gaps[:5]}")
    if report.verify_exit != 0:
        found.append(f"firebreak audit verify exited {report.verify_exit}: {report.verify_output}")
    return found


def summary(report: Report) -> list[str]:
    """What the drill counted, for people: bench/faults.py prints it, the test's failure too."""
    retried = [d for d in report.deliveries if d.retried_after_failure]
    answers = Counter(a for d in report.deliveries for a in d.answers)
    lines = [
        *report.timeline,
        f"deliveries: {len(report.deliveries)}, answers {dict(answers)}; "
        f"{len(retried)} needed a retry, {sum(d.accepted for d in retried)} of them accepted",
        f"decisions: {sum(len(a) for a in report.decisions.values())} requests for "
        f"{len(report.decisions)} approvals; answers "
        f"{dict(Counter(a for v in report.decisions.values() for a in v))}",
        f"gateway blocks per key: {dict(report.blocks)}",
        f"retraining runs per model: {dict(report.runs)}",
        f"S3 writes: {sum(report.s3_writes.values())} to {len(report.s3_writes)} objects",
        f"first workflow task (containment) per worker: "
        f"{dict(Counter(report.contained_by.values()))}",
        f"SIGTERM at the end: {report.stops}",
        f"audit: {len(report.positions)} events, {len(report.alerts_in_ledger)} alerts in the "
        f"ledger; verify: {report.verify_output.splitlines()[-1] if report.verify_output else ''}",
    ]
    for name, summaries in report.guard_holders.items():
        if name.startswith("s"):
            lines.append(
                f"revoke of the shared key in {name} on {report.contained_by.get(name)}: "
                f"guarded by {summaries}"
            )
    return lines
