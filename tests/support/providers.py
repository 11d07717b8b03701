"""Real systems for the provider tests: an MLflow server, a moto S3 server, an SMTP receiver,
and loopback HTTP servers that speak a third party's wire format.

Servers run in their own process group on a free loopback port and the whole group is killed at
teardown, because `mlflow server` forks uvicorn workers and huey consumers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from activities.effects import EffectRecords
from orchestrator.db import make_engine
from tests.support.ports import free_port

BIN = Path(sys.executable).parent


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_server(
    argv: list[str],
    *,
    port: int,
    health: str,
    log: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> ServerProcess:
    """Start `argv` in its own process group and wait until `health` answers 200."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited early:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url + health, timeout=1.0).status_code == 200:
                return ServerProcess(url, process, log)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(process)
    raise RuntimeError(f"{argv[0]} did not become healthy:\n{log.read_text()[-4000:]}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Kill the whole process group so no forked worker outlives the test session."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` with a SQLite backend; session-scoped, it takes ~11 s to start."""
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    server = start_server(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--default-artifact-root",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        port=port,
        health="/health",
        log=root / "server.log",
    )
    try:
        yield server.url
    finally:
        stop_server(server.process)


async def mlflow_post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/2.0/mlflow" + path, json=body)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


async def register_model(url: str, accuracies: list[float], alias_version: int) -> str:
    """A model with one version per accuracy (each from a run logging it), alias `champion`."""
    name = f"fraud-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        experiment = await mlflow_post(client, "/experiments/create", {"name": name})
        await mlflow_post(client, "/registered-models/create", {"name": name})
        for accuracy in accuracies:
            run = (
                await mlflow_post(
                    client, "/runs/create", {"experiment_id": experiment["experiment_id"]}
                )
            )["run"]["info"]["run_id"]
            await mlflow_post(
                client,
                "/runs/log-metric",
                {"run_id": run, "key": "accuracy", "value": accuracy, "timestamp": 0},
            )
            await mlflow_post(
                client,
                "/model-versions/create",
                {"name": name, "source": f"s3://models/{name}/{run}", "run_id": run},
            )
        await mlflow_post(
            client,
            "/registered-models/alias",
            {"name": name, "alias": "champion", "version": str(alias_version)},
        )
    return name


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str
    secret_key: str

    def new_bucket(self, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
        """A fresh bucket and a boto3 client on it; the credentials are in `CONTRACT_S3_ACCESS`
        and `CONTRACT_S3_SECRET`, the variables a provider under test is configured to read."""
        s3, bucket = self.client(), f"fb-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=bucket)
        monkeypatch.setenv("CONTRACT_S3_ACCESS", self.access_key)
        monkeypatch.setenv("CONTRACT_S3_SECRET", self.secret_key)
        return s3, bucket

    def client(self, secret_key: str | None = None) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
        )


@contextlib.contextmanager
def running_moto(root: Path) -> Iterator[S3Endpoint]:
    """A real moto S3 server on loopback that *checks SigV4 signatures*: IAM auth is on after
    the three unauthenticated calls that create the user, its policy and its access key."""
    port = free_port()
    server = start_server(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        port=port,
        health="/moto-api/",
        log=root / "server.log",
        env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"},
    )
    try:
        iam = boto3.client(
            "iam",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        iam.create_user(UserName="firebreak")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="firebreak", PolicyName="s3", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName="firebreak")["AccessKey"]
        yield S3Endpoint(server.url, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        stop_server(server.process)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """`running_moto` for the whole session."""
    with running_moto(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    target: str = ""
    """The request target as sent (path and query, still percent-encoded)."""

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], Any]
Handler = Callable[[Recorded], Reply]


@dataclass
class Loopback:
    """A real HTTP server on loopback; `handler` plays the third party's API."""

    url: str
    handler: Handler
    requests: list[Recorded] = field(default_factory=list)


@contextlib.contextmanager
def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> Iterator[Loopback]:
    """A threaded HTTP server on a free loopback port answering with `handler`, which may be
    called from several threads at once; HTTPS with the server context `tls`."""
    state = Loopback(url="", handler=handler)

    class RequestHandler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            recorded = Recorded(
                self.command,
                split.path,
                parse_qs(split.query),
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
                self.path,
            )
            state.requests.append(recorded)
            status, headers, body = state.handler(recorded)
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"content-type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    state.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    # shutdown() waits for the serving loop's next poll: a short one keeps teardown quick.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    """`serving` with a handler each test sets (404 until it does)."""
    with serving(lambda r: (404, {}, {"error": "no handler"})) as state:
        yield state


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Envelope] = field(default_factory=list)


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """A real SMTP receiver (aiosmtpd) that keeps every delivered envelope."""
    box = Mailbox("127.0.0.1", free_port())

    class Keep:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            box.messages.append(envelope)
            return "250 OK"

    controller = Controller(Keep(), hostname=box.host, port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def effect_records(migrated_sqlite_url: str) -> Iterator[EffectRecords]:
    """The record store the worker wraps every provider in, on a fresh migrated database: the
    concrete suites run their provider wrapped (`activities/recorded.py`), as the worker does."""
    engine = make_engine(migrated_sqlite_url)
    yield EffectRecords(engine)
    engine.dispose()
