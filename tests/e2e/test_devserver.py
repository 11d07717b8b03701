"""The embedded Temporal dev server: starts on the ports asked for, refuses a taken port with
one clear line, keeps workflow state in its file, and leaves no process behind when stopped."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
from pathlib import Path

import pytest

from orchestrator.errors import ConfigError
from orchestrator.runtime.devserver import DevServer, DevServerConfig
from orchestrator.runtime.ports import is_listening
from tests.e2e.procs import alive, in_group
from tests.support.ports import free_port


def _config(tmp_path: Path) -> DevServerConfig:
    return DevServerConfig(
        db_file=tmp_path / "temporal.db",
        log_file=tmp_path / "temporal.log",
        port=free_port(),
        ui_port=free_port(),
    )


def _journal_mode(db_file: Path) -> str:
    """WAL is recorded in the file itself, so it shows the pragma the server was started with."""
    with contextlib.closing(sqlite3.connect(db_file)) as db:
        return str(db.execute("PRAGMA journal_mode").fetchone()[0])


async def test_serves_ui_and_stops_whole_group(tmp_path: Path) -> None:
    server = DevServer(_config(tmp_path))
    server.start()
    pid = server.pid
    assert pid is not None
    try:
        await server.wait_ready()
        assert is_listening("127.0.0.1", server.config.ui_port, timeout=5)
        assert (tmp_path / "temporal.db").is_file()
        assert _journal_mode(tmp_path / "temporal.db") == "wal"
    finally:
        server.stop()
    assert not alive(pid)
    assert in_group(pid) == set()
    assert not is_listening("127.0.0.1", server.config.port)
    server.stop()  # idempotent: a second stop (atexit after a signal) is harmless


def test_taken_port_is_one_clear_error(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", config.port))
        busy.listen()
        server = DevServer(config)
        with pytest.raises(ConfigError, match=rf"FIREBREAK_TEMPORAL_PORT: port {config.port}"):
            server.start()
    assert server.pid is None


async def test_server_that_dies_reports_its_log(tmp_path: Path) -> None:
    config = _config(tmp_path)
    config.db_file.mkdir()  # a directory where the database file should be: the server exits
    server = DevServer(config)
    server.start()
    with pytest.raises(ConfigError, match="Temporal dev server exited with code"):
        await server.wait_ready(startup_seconds=30)
    assert server.pid is None
