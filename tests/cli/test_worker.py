"""`firebreak worker` refuses to start with a one-line error when the event store is not
migrated, its OTLP metrics configuration cannot be honoured, or Temporal cannot be reached."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestrator.db import upgrade
from tests.support.ports import free_port


def run_worker(data_dir: Path, address: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FIREBREAK_DATA_DIR": str(data_dir),
        "FIREBREAK_TEMPORAL_ADDRESS": address,
        **extra,
    }
    firebreak = Path(sys.executable).parent / "firebreak"
    return subprocess.run(
        [str(firebreak), "worker"], env=env, capture_output=True, text=True, timeout=60
    )


def test_worker_refuses_an_unmigrated_event_store(tmp_path: Path) -> None:
    result = run_worker(tmp_path, f"127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert result.stderr == (
        f"firebreak: no database at {tmp_path / 'firebreak.db'}: run `firebreak db upgrade` "
        "to create it\n"
    )
    assert not (tmp_path / "firebreak.db").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "firebreak.db").touch()
    result = run_worker(empty, f"127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert result.stderr.endswith("has no schema yet: run `firebreak db upgrade`\n")
    assert result.stderr.count("\n") == 1


def test_worker_reports_an_unreachable_temporal_server(tmp_path: Path) -> None:
    upgrade(f"sqlite:///{tmp_path / 'firebreak.db'}")
    address = f"127.0.0.1:{free_port()}"
    result = run_worker(tmp_path, address)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"firebreak: cannot reach Temporal at {address}: RuntimeError"
    )
    assert "Traceback" not in result.stderr


def test_worker_refuses_an_otlp_protocol_it_does_not_speak(tmp_path: Path) -> None:
    upgrade(f"sqlite:///{tmp_path / 'firebreak.db'}")
    result = run_worker(
        tmp_path,
        f"127.0.0.1:{free_port()}",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4317",
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "firebreak: OTEL_EXPORTER_OTLP_PROTOCOL='grpc': Firebreak exports traces over OTLP/HTTP"
        " protobuf only; set it to 'http/protobuf' (or unset it)"
    )
    assert "Traceback" not in result.stderr
