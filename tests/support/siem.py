"""Real SIEM receivers for the forwarder's tests.

- `Rsyslog`: Debian's `rsyslogd` with `rsyslog-gnutls` (installed by `.ci/install-packages`),
  started with its own configuration: an RFC 5425 TLS listener on a port it picks and writes
  to a file, a certificate from a test CA made with `cryptography`, and every message it
  receives written to a file as `MSGID STRUCTURED-DATA MSG`.
- `HecServer` and `BulkServer`: loopback HTTP servers speaking Splunk HEC's and Elasticsearch
  `_bulk`'s wire formats, error answers included, over the same `serving` helper the provider
  tests use; each keeps what it accepted, and a test can queue failures to answer with.
"""

from __future__ import annotations

import datetime as dt
import glob
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.providers import Loopback, Recorded, Reply, serving

RSYSLOGD = "/usr/sbin/rsyslogd"
GTLS_GLOB = "/usr/lib/*/rsyslog/lmnsd_gtls.so"
"""rsyslog-gnutls's TLS driver, under the machine's multiarch directory."""


def make_ca(directory: Path, host: str = "localhost") -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate for `host` and 127.0.0.1, its key), as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Firebreak test CA")])
    usage = x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=True,
        crl_sign=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return paths


RSYSLOG_CONF = """
global(workDirectory="{work}"
       maxMessageSize="400k"
       DefaultNetstreamDriver="gtls"
       DefaultNetstreamDriverCAFile="{ca}"
       DefaultNetstreamDriverCertFile="{cert}"
       DefaultNetstreamDriverKeyFile="{key}")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
input(type="imtcp" port="{port}" listenPortFileName="{port_file}" maxFrameSize="400000")
template(name="firebreak" type="list") {{
  property(name="msgid") constant(value=" ")
  property(name="structured-data") constant(value=" ")
  property(name="msg") constant(value="\\n")
}}
action(type="omfile" file="{received}" template="firebreak" flushOnTXEnd="on")
"""

SD = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Received:
    """One message as rsyslog wrote it."""

    msgid: str
    params: dict[str, str]
    body: dict[str, Any]


@dataclass
class Rsyslog:
    directory: Path
    ca: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def received_file(self) -> Path:
        return self.directory / "received.log"

    def start(self, port: int = 0) -> None:
        """Start rsyslogd (on `port`, or one it picks the first time) and wait for it."""
        port_file = self.directory / "port"
        port_file.unlink(missing_ok=True)
        conf = self.directory / "rsyslog.conf"
        _, cert, key = (self.ca, self.directory / "server.pem", self.directory / "server.key")
        conf.write_text(
            RSYSLOG_CONF.format(
                work=self.directory,
                ca=self.ca,
                cert=cert,
                key=key,
                port=port,
                port_file=port_file,
                received=self.received_file,
            )
        )
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(conf), "-i", str(self.directory / "rsyslogd.pid")],
            stdout=(self.directory / "rsyslogd.out").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"rsyslogd exited: {(self.directory / 'rsyslogd.out').read_text()}"
                )
            if port == 0 and port_file.exists() and port_file.read_text().strip():
                self.port = int(port_file.read_text().strip())
                return
            if port and _listening(port):  # rsyslog writes the port file only for port 0
                self.port = port
                return
            time.sleep(0.05)
        raise AssertionError("rsyslogd did not start listening within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def messages(self) -> list[Received]:
        if not self.received_file.exists():
            return []
        found = []
        for line in self.received_file.read_text(encoding="utf-8").splitlines():
            msgid, rest = line.split(" ", 1)
            data, _, msg = rest.partition("] ")
            found.append(
                Received(
                    msgid=msgid,
                    params={k: re.sub(r"\\(.)", r"\1", v) for k, v in SD.findall(data)},
                    body=json.loads(msg.removeprefix("\ufeff")),
                )
            )
        return found


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    """A running rsyslogd with a TLS listener; a missing package is a failure, not a skip."""
    if shutil.which(RSYSLOGD) is None or not glob.glob(GTLS_GLOB):
        pytest.fail("rsyslog and rsyslog-gnutls are missing: run .ci/install-packages")
    directory = tmp_path / "rsyslog"
    ca, _, _ = make_ca(directory)
    server = Rsyslog(directory=directory, ca=ca)
    server.start()
    try:
        yield server
    finally:
        server.stop()


Failure = Callable[[Recorded], Reply | None]


@dataclass
class Collector:
    """What a SIEM test server took in, and the failures it is told to answer with next."""

    loopback: Loopback | None = None
    accepted: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0
    """Seconds each request takes before it is answered: a slow SIEM."""

    @property
    def url(self) -> str:
        assert self.loopback is not None
        return self.loopback.url

    def fail_next(self, *failures: Failure) -> None:
        with self.lock:
            self.failures.extend(failures)

    def _injected(self, request: Recorded) -> Reply | None:
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            if not self.failures:
                return None
            return self.failures.pop(0)(request)


HEC_TOKEN = "hec-" + "token-1234"


@dataclass
class HecServer(Collector):
    """Splunk HEC's `/services/collector/event`: `Authorization: Splunk <token>`, events as
    concatenated JSON objects, `{"text": "Success", "code": 0}` or its error answers."""

    def handle(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/services/collector/event":
            return 404, {}, {"text": "The requested URL was not found on this server.", "code": 404}
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Splunk "):
            return 401, {}, {"text": "Token is required", "code": 2}
        if auth != f"Splunk {HEC_TOKEN}":
            return 403, {}, {"text": "Invalid token", "code": 4}
        injected = self._injected(request)
        if injected is not None:
            return injected
        events = list(_concatenated(request.body.decode()))
        if not events:
            return 400, {}, {"text": "No data", "code": 5}
        for number, event in enumerate(events):
            if "event" not in event:
                return (
                    400,
                    {},
                    {
                        "text": "Event field is required",
                        "code": 12,
                        "invalid-event-number": number,
                    },
                )
            if event["event"] in ("", None):
                return (
                    400,
                    {},
                    {
                        "text": "Event field cannot be blank",
                        "code": 13,
                        "invalid-event-number": number,
                    },
                )
        with self.lock:
            self.accepted.extend(events)
        return 200, {}, {"text": "Success", "code": 0}


def hec_invalid_at(event_id: str) -> Failure:
    """HEC's answer to a batch holding the event `event_id` (as `firebreak_id`): the events
    before it are indexed (as HEC does) and `invalid-event-number` names it; else None (pass)."""

    def failure(request: Recorded) -> Reply | None:
        events = list(_concatenated(request.body.decode()))
        ids = [e["fields"]["firebreak_id"] for e in events]
        if event_id not in ids:
            return None
        return (
            400,
            {},
            {"text": "Invalid data format", "code": 6, "invalid-event-number": ids.index(event_id)},
        )

    return failure


def hec_busy(request: Recorded) -> Reply:
    return 503, {}, {"text": "Server is busy", "code": 9}


def _concatenated(text: str) -> Iterator[dict[str, Any]]:
    """HEC's body: JSON objects one after the other (whitespace between allowed)."""
    decoder = json.JSONDecoder()
    index = 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return
        value, index = decoder.raw_decode(text, index)
        yield value


@dataclass
class BulkServer(Collector):
    """Elasticsearch's `POST /_bulk`: NDJSON action/document pairs; `create` is refused with
    409 `version_conflict_engine_exception` for an `_id` already indexed; per-item errors with
    `"errors": true`."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected_items: dict[str, tuple[int, str]] = field(default_factory=dict)
    """`_id` → (status, error type) answered for that item while it is listed."""

    def handle(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/_bulk":
            return 404, {}, {"error": {"type": "not_found", "reason": request.path}, "status": 404}
        if request.headers.get("content-type") != "application/x-ndjson":
            return 406, {}, {"error": "Content-Type header is not supported", "status": 406}
        injected = self._injected(request)
        if injected is not None:
            return injected
        lines = request.body.decode().splitlines()
        if not request.body.endswith(b"\n"):
            return (
                400,
                {},
                {
                    "error": {
                        "type": "illegal_argument_exception",
                        "reason": "The bulk request must be terminated by a newline [\\n]",
                    },
                    "status": 400,
                },
            )
        items: list[dict[str, Any]] = []
        with self.lock:
            for action_line, document_line in zip(lines[::2], lines[1::2], strict=True):
                action = json.loads(action_line)["create"]
                doc_id, index = action["_id"], action["_index"]
                item: dict[str, Any] = {"_index": index, "_id": doc_id}
                if doc_id in self.rejected_items:
                    status, kind = self.rejected_items[doc_id]
                    item |= {
                        "status": status,
                        "error": {"type": kind, "reason": f"{kind} for [{doc_id}]"},
                    }
                elif doc_id in self.documents:
                    item |= {
                        "status": 409,
                        "error": {
                            "type": "version_conflict_engine_exception",
                            "reason": f"[{doc_id}]: version conflict, document already exists",
                        },
                    }
                else:
                    self.documents[doc_id] = json.loads(document_line)
                    self.accepted.append(self.documents[doc_id])
                    item |= {"result": "created", "status": 201, "_version": 1}
                items.append({"create": item})
        errors = any(i["create"]["status"] >= 300 for i in items)
        return 200, {}, {"took": 3, "errors": errors, "items": items}


@pytest.fixture
def hec_server() -> Iterator[HecServer]:
    server = HecServer()
    with serving(server.handle) as loopback:
        server.loopback = loopback
        yield server


@pytest.fixture
def hec_tls_server(tmp_path: Path) -> Iterator[tuple[HecServer, Path]]:
    """`hec_server` over HTTPS with a certificate from a test CA; yields it and the CA file."""
    ca, cert, key = make_ca(tmp_path / "hec-tls")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HecServer()
    with serving(server.handle, tls=context) as loopback:
        server.loopback = loopback
        yield server, ca


@pytest.fixture
def bulk_server() -> Iterator[BulkServer]:
    server = BulkServer()
    with serving(server.handle) as loopback:
        server.loopback = loopback
        yield server
