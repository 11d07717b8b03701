"""`firebreak audit checkpoint --json` and `audit verify --checkpoint FILE|URL`, as an auditor
uses them: keep a copy outside the database, hand it back to verify, served from a file or a
real HTTP server on loopback; a covered-up truncation exits 1, an unusable checkpoint exits 2."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from orchestrator.audit import open_event_store
from orchestrator.settings import load_settings
from tests.audit.test_kept_checkpoints import cut_tail_and_cover_it_up
from tests.cli.test_db_audit_keys import env, run, seed

__all__ = ["env"]  # the fixture, shared with the other audit CLI tests


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Not on stderr, where the CLI's own one-line errors are checked."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on loopback, as a witness publishing checkpoints would."""
    root = tmp_path / "witness"
    root.mkdir()
    handler = partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_auditor_keeps_a_checkpoint_and_verify_holds_the_database_to_it(
    env: dict[str, str], tmp_path: Path, served: tuple[Path, str]
) -> None:
    run("db", "upgrade")
    seed()
    code, out, _ = run("audit", "checkpoint", "--json")
    assert code == 0
    kept = json.loads(out)
    assert kept["position"] == 5
    copy = tmp_path / "kept.json"
    copy.write_text(out)
    witness, url = served
    (witness / "checkpoints.jsonl").write_text(out + out)  # JSON Lines, as a log of them

    for source in (str(copy), f"{url}/checkpoints.jsonl"):
        code, out, err = run("audit", "verify", "--checkpoint", source)
        assert code == 0, err
        assert out.startswith("intact: 5 events") and "kept checkpoints" in out

    store = open_event_store(load_settings())
    try:
        cut_tail_and_cover_it_up(store, keep=3)
    finally:
        store.engine.dispose()
    code, out, _ = run("audit", "verify")
    assert code == 0, "the database alone no longer shows the cut"
    code, out, _ = run("audit", "verify", "--checkpoint", str(copy))
    assert code == 1
    assert out.startswith("TAMPERED at position 4: kept checkpoint at position 5")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("not json at all", "not JSON or JSON Lines"),
        ('{"position": "five"}', "checkpoint 1: position"),
        ("[]", "holds no checkpoint"),
    ],
)
def test_an_unusable_checkpoint_is_one_line_and_exit_2(
    env: dict[str, str], tmp_path: Path, content: str, says: str
) -> None:
    run("db", "upgrade")
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, _, err = run("audit", "verify", "--checkpoint", str(bad))
    assert code == 2 and err.count("\n") == 1 and says in err


def test_missing_checkpoint_sources_exit_2(
    env: dict[str, str], tmp_path: Path, served: tuple[Path, str]
) -> None:
    run("db", "upgrade")
    _, url = served
    for source, says in (
        (str(tmp_path / "nowhere.json"), "cannot read"),
        (f"{url}/nowhere.json", "cannot fetch: HTTP 404"),
        ("http://127.0.0.1:9/kept.json", "cannot fetch: ConnectError"),
    ):
        code, _, err = run("audit", "verify", "--checkpoint", source)
        assert code == 2 and err.count("\n") == 1 and says in err, err
