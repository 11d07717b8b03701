"""The production shape on one host, as real processes that a test or a benchmark can kill.

Used by the fault test (`tests/e2e/test_faults.py`, and `bench/faults.py` for the long run)
and by `bench/ingest.py --topology scaled`:

- a **private PostgreSQL cluster** (initdb + pg_ctl in a temporary directory, on its own port):
  restarting the machine's shared cluster would break every other test running beside this one,
  so the fault test restarts a cluster only it uses. The server binaries are the same Debian
  packages as the shared cluster's, so nothing differs but the process;
- the **Temporal dev server** on its SQLite file, stopped and started again on the same file and
  port (what survives is what a file-backed server keeps);
- `firebreak api` and `firebreak worker` processes, each in its own session and **its own data
  dir**: the only files they share are the key ring (`FIREBREAK_KEYRING_FILE`) and the
  checkpoint signing key (`FIREBREAK_SIGNING_KEY_FILE`), as a deployment mounts its secrets.

Nothing here is a fake of Firebreak: the processes are the ones users run, started as
`firebreak api` / `firebreak worker` with `FIREBREAK_*` variables only. Kills are SIGKILL of
one process id; stops are of what this module started, by id.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from orchestrator.runtime.devserver import sqlite_pragma_args
from orchestrator.temporal.binaries import find_binary
from tests.support.ports import free_port

BIN = Path(sys.executable).parent
FIREBREAK = str(BIN / "firebreak")
START_SECONDS = 90.0


def _postgres_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise RuntimeError(f"no PostgreSQL server binary {name} under /usr/lib/postgresql")
    return str(found[-1])


def _as_postgres_user() -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` account then."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", pwd.getpwnam("postgres").pw_name, "--"]


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster only this run uses, with trust auth on 127.0.0.1:`port`.

    Its files live in a directory of their own under the system's temp dir, owned by the
    `postgres` account when we are root: a test's `tmp_path` is private to root (0700), which
    the server could not enter."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fb-pg-")))
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*_as_postgres_user(), *argv], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}")

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--no-sync")  # fmt: skip
        self.start()

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c max_connections=200"
        )
        log = str(self.root / "postgres.log")
        self._run(_postgres_bin("pg_ctl"), action, "-D", str(self.data), "-l", log,
                  "-o", options, "-w", "-t", "60", *extra)  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every client connection is cut, as a failover or a
        package upgrade does."""
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._ctl("stop", "-m", "immediate")

    def create_database(self, name: str) -> str:
        import psycopg

        libpq = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextlib.contextmanager
def private_postgres(logs: Path) -> Iterator[PrivatePostgres]:
    """A cluster for the block; removed after, its server log kept in `logs`."""
    cluster = PrivatePostgres()
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.stop()
        logs.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy(cluster.root / "postgres.log", logs / "postgres.log")
        shutil.rmtree(cluster.root, ignore_errors=True)


@dataclass
class DevServer:
    """`temporal server start-dev` on a file, as `firebreak up` runs it; restartable in place."""

    db_file: Path
    log: Path
    port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [
            str(find_binary("temporal")),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(self.http_port),
            "--headless",
            "--log-level",
            "error",
            "--db-filename",
            str(self.db_file),
            *sqlite_pragma_args(),
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        url = f"http://127.0.0.1:{self.http_port}/api/v1/namespaces/default"
        wait_http(url, self.process, "the Temporal dev server")

    def stop(self) -> None:
        """SIGTERM and wait: the server's file is what must carry the incidents over."""
        terminate(self.process)


def terminate(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM `process` if it runs and wait for it; SIGKILL after 30 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_http(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url} within {START_SECONDS:.0f} s")


@dataclass
class Replica:
    """One `firebreak api` or `firebreak worker` with its own data dir and log."""

    command: str
    name: str
    env: dict[str, str]
    log: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    pids: list[int] = field(default_factory=list)
    """Every process id it ran as, one per start."""

    @property
    def url(self) -> str:
        assert self.port is not None, f"{self.name} is not an API"
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, *, wait: bool = True) -> None:
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts + 1} ---\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [FIREBREAK, self.command],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self.pids.append(self.process.pid)
        if wait and self.port is not None:
            wait_http(f"{self.url}/healthz", self.process, self.name)

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed, in-flight requests are reset."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        terminate(self.process)


def base_env() -> dict[str, str]:
    """The caller's environment without any `FIREBREAK_*`: each replica gets only its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_")}


@dataclass
class Topology:
    """`apis` and `workers` on one database and one Temporal server."""

    root: Path
    database_url: str
    temporal: DevServer
    shared: dict[str, str]
    """Settings every replica gets (providers, task queue, playbooks, tuning)."""
    apis: list[Replica] = field(default_factory=list)
    workers: list[Replica] = field(default_factory=list)

    @property
    def keyring(self) -> Path:
        return self.root / "keyring.json"

    @property
    def signing_key(self) -> Path:
        return self.root / "checkpoint-ed25519.pem"

    def env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        return base_env() | {
            "FIREBREAK_DATA_DIR": str(data_dir),
            "FIREBREAK_DATABASE_URL": self.database_url,
            "FIREBREAK_KEYRING_FILE": str(self.keyring),
            "FIREBREAK_SIGNING_KEY_FILE": str(self.signing_key),
            "FIREBREAK_TEMPORAL_ADDRESS": self.temporal.address,
            **self.shared,
            **extra,
        }

    def add(self, command: str, name: str) -> Replica:
        data_dir = self.root / name
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        port = free_port() if command == "api" else None
        extra = {"FIREBREAK_API_PORT": str(port)} if port else {}
        replica = Replica(command, name, self.env(data_dir, **extra), self.root / f"{name}.log")
        replica.port = port
        (self.apis if command == "api" else self.workers).append(replica)
        return replica

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A `firebreak` command as an operator on a third host runs it (its own data dir)."""
        env = self.env(self.root / "operator")
        return subprocess.run(
            [FIREBREAK, *args], env=env, capture_output=True, text=True, timeout=timeout
        )

    def prepare(self) -> None:
        """What the init job does once (`firebreak up --init-only`): migrations, and the key
        ring and checkpoint signing key every replica mounts."""
        from orchestrator.runtime.prepare import prepare
        from orchestrator.settings import Settings

        operator = self.root / "operator"
        prepare(Settings(data_dir=operator, database_url=self.database_url,
                         keyring_file=self.keyring, signing_key_file=self.signing_key))  # fmt: skip

    def start(self) -> None:
        for replica in [*self.workers, *self.apis]:
            replica.start()

    def stop(self) -> None:
        for replica in [*self.apis, *self.workers]:
            replica.stop()
        self.temporal.stop()

    def processes(self) -> dict[str, int]:
        """Live replicas and the Temporal server by name -> pid, for CPU accounting."""
        found = {r.name: r.pid for r in [*self.apis, *self.workers] if r.running()}
        if self.temporal.process is not None:
            found["temporal"] = self.temporal.process.pid
        return found


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """User + system CPU of `pid` so far, with that of the children it waited for unless
    `children` is false (/proc/PID/stat fields 14-17); 0 for a process that is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(v) for v in fields[11 : 15 if children else 13]) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def topology(
    root: Path,
    database_url: str,
    shared: dict[str, str],
    *,
    apis: int = 2,
    workers: int = 2,
    seed: Callable[[Path], object] | None = None,
) -> Iterator[Topology]:
    """A migrated database, a Temporal dev server, `apis` API and `workers` worker replicas;
    `seed(data_dir)` runs in each worker's data dir first (local providers' state)."""
    root.mkdir(parents=True, exist_ok=True)
    server = DevServer(root / "temporal.db", root / "temporal.log")
    server.start()
    shape = Topology(root, database_url, server, shared)
    try:
        shape.prepare()
        for i in range(workers):
            worker = shape.add("worker", f"worker-{i + 1}")
            if seed is not None:
                seed(Path(worker.env["FIREBREAK_DATA_DIR"]))
        for i in range(apis):
            shape.add("api", f"api-{i + 1}")
        shape.start()
        yield shape
    finally:
        shape.stop()
