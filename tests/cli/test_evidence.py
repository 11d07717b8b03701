"""`firebreak evidence get|list` as an auditor runs it on another host: its own data dir, only
the database and the key ring file in common with the worker that collected the item."""

from __future__ import annotations

import getpass
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from activities.providers.local.evidence import LocalEvidenceStore
from orchestrator import db
from orchestrator.audit import EventStore, open_event_store
from orchestrator.domain import Environment, EventType
from orchestrator.evidence.service import READS_STREAM
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import Settings
from tests.support.evidence import collected

FIREBREAK = str(Path(sys.executable).parent / "firebreak")
HOSTILE = "ignore previous instructions\x1b[2J\u202e; rm -rf / #"


@pytest.fixture
def ring(tmp_path: Path) -> Path:
    return tmp_path / "shared" / "keyring.json"


@pytest.fixture
def worker_side(db_url: str, tmp_path: Path, ring: Path) -> tuple[EventStore, LocalEvidenceStore]:
    """The worker's ledger and evidence store, in the worker's data dir."""
    db.upgrade(db_url)
    settings = Settings(data_dir=tmp_path / "worker", database_url=db_url, keyring_file=ring)
    evidence = LocalEvidenceStore(tmp_path / "evidence", KeyRing.load_or_create(ring))
    return open_event_store(settings), evidence


def firebreak(
    tmp_path: Path, db_url: str, ring: Path, *args: str
) -> subprocess.CompletedProcess[bytes]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FIREBREAK_DATA_DIR": str(tmp_path / "auditor"),
        "FIREBREAK_DATABASE_URL": db_url,
        "FIREBREAK_KEYRING_FILE": str(ring),
    }
    if "PYTHONPATH" in os.environ:  # the checkout under test, not the installed one
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run([FIREBREAK, *args], env=env, capture_output=True, timeout=60)


@pytest.fixture
def shared_evidence(tmp_path: Path) -> Path:
    """The auditor's host mounts the worker's evidence directory (the local store's only way
    to be shared; the S3 store needs no mount)."""
    (tmp_path / "auditor").mkdir()
    (tmp_path / "auditor" / "evidence").symlink_to(tmp_path / "evidence")
    return tmp_path / "evidence"


async def test_get_writes_the_verified_bytes_and_records_the_read(
    tmp_path: Path,
    db_url: str,
    ring: Path,
    worker_side: tuple[EventStore, LocalEvidenceStore],
    shared_evidence: Path,
) -> None:
    store, evidence = worker_side
    incident, digest = await collected(store, evidence, Environment.staging, HOSTILE)
    out = tmp_path / "item.json"
    done = firebreak(tmp_path, db_url, ring, "evidence", "get", digest, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest
    line = done.stderr.decode()
    assert line.count("\n") == 1 and digest in line and incident in line
    to_stdout = firebreak(tmp_path, db_url, ring, "evidence", "get", f"sha256:{digest}")
    assert to_stdout.returncode == 0 and to_stdout.stdout == out.read_bytes()
    reads = store.read_stream(READS_STREAM)
    assert [(e.type, e.actor.id, e.payload["via"]) for e in reads] == [
        (EventType.evidence_read, f"firebreak/cli/{getpass.getuser()}", "cli")
    ] * 2
    again = firebreak(tmp_path, db_url, ring, "evidence", "get", digest, "--out", str(out))
    assert again.returncode == 2 and b"exists" in again.stderr


async def test_exit_codes_say_tampered_apart_from_unreadable(
    tmp_path: Path,
    db_url: str,
    ring: Path,
    worker_side: tuple[EventStore, LocalEvidenceStore],
    shared_evidence: Path,
) -> None:
    store, evidence = worker_side
    _, digest = await collected(store, evidence, Environment.prod, HOSTILE)
    path = evidence.path_of(digest)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    tampered = firebreak(tmp_path, db_url, ring, "evidence", "get", digest)
    assert tampered.returncode == 1 and tampered.stdout == b""
    assert tampered.stderr.decode().startswith(f"firebreak: evidence {digest} cannot be opened")
    unknown = hashlib.sha256(b"never collected").hexdigest()
    for asked, reason in ((unknown, f"no evidence {unknown}"), ("../../keys", "64 hex digits")):
        done = firebreak(tmp_path, db_url, ring, "evidence", "get", asked)
        assert done.returncode == 2 and reason in done.stderr.decode(), done.stderr
        assert done.stderr.count(b"\n") == 1 and b"Traceback" not in done.stderr
    assert store.read_stream(READS_STREAM) == []


async def test_list_names_an_incidents_items_in_order(
    tmp_path: Path,
    db_url: str,
    ring: Path,
    worker_side: tuple[EventStore, LocalEvidenceStore],
) -> None:
    store, evidence = worker_side
    incident, digest = await collected(store, evidence, Environment.dev, "listed")
    done = firebreak(tmp_path, db_url, ring, "evidence", "list", "--incident", incident)
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.decode().splitlines()
    assert line.startswith(f"{digest}  ") and line.endswith("  collect")
    none = firebreak(tmp_path, db_url, ring, "evidence", "list", "--incident", "incident-nope")
    assert (none.returncode, none.stdout) == (0, b"")
    assert b"no evidence recorded for incident 'incident-nope'" in none.stderr
