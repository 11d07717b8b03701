"""`firebreak audit prove` and `firebreak audit check-proof` against a real database; the
check runs with no database at all."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from orchestrator import db
from orchestrator.audit import decode_hash, encode_hash, open_event_store
from orchestrator.cli.main import app
from orchestrator.settings import load_settings
from tests.cli.test_db_audit_keys import FIREBREAK, env
from tests.support.events import new_event

__all__ = ["env"]  # the fixture, shared with the other audit CLI tests


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def firebreak(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command in a process of its own (errors are handled by `main`)."""
    return subprocess.run(
        [FIREBREAK, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def seed(count: int = 9) -> list[str]:
    settings = load_settings()
    db.upgrade(settings.db_url)
    store = open_event_store(settings)
    ids = []
    for i in range(count):
        event = new_event(payload={"i": i})
        store.append(f"inc-{i % 2}", [event])
        ids.append(event.id)
    store.engine.dispose()
    return ids


def test_prove_inclusion_then_check_offline(env: dict[str, str], tmp_path: Path) -> None:
    ids = seed()
    code, out, _ = run("audit", "prove", ids[4], "--json")
    assert code == 0, out
    proof = json.loads(out)
    assert proof["format"] == "firebreak.audit.inclusion-proof.v1"
    assert (proof["event_id"], proof["position"], proof["leaf_index"]) == (ids[4], 5, 4)
    assert proof["tree_size"] == 9  # no checkpoint yet: the head
    store = open_event_store(load_settings())
    root = encode_hash(store.merkle_root(9))
    store.engine.dispose()
    assert proof["root"] == root
    path = tmp_path / "proof.json"
    path.write_text(out)

    code, text, _ = run("audit", "prove", ids[4])
    assert code == 0
    assert text.splitlines()[:2] == [
        f"event {ids[4]} at position 5 is leaf 4 of the tree of 9 events",
        f"root: {root}",
    ]

    offline = {"FIREBREAK_DATABASE_URL": "postgresql://127.0.0.1:1/nowhere"}
    proc = firebreak(offline, "audit", "check-proof", str(path), "--root", root)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    assert proc.stdout == (
        f"valid: event {ids[4]} (position 5) is in the tree of 9 events;"
        " checked against the trusted root\n"
    )
    assert run("audit", "check-proof", "-", stdin=out)[0] == 0

    other_root = encode_hash(decode_hash(root)[::-1])
    code, out2, _ = run("audit", "check-proof", str(path), "--root", other_root)
    assert (code, out2) == (1, "INVALID: the proof's root is not the trusted root\n")
    forged = dict(proof, path=[proof["path"][1], proof["path"][0], *proof["path"][2:]])
    path.write_text(json.dumps(forged))
    code, out2, _ = run("audit", "check-proof", str(path), "--root", root)
    assert (code, out2) == (1, "INVALID: the proof leads to another root\n")


def test_prove_defaults_to_the_latest_checkpoint(env: dict[str, str]) -> None:
    ids = seed(4)
    assert run("audit", "checkpoint")[0] == 0
    seed(3)
    code, out, _ = run("audit", "prove", ids[0], "--json")
    assert (code, json.loads(out)["tree_size"]) == (0, 4)
    code, out, _ = run("audit", "prove", ids[0], "--size", "7", "--json")
    assert (code, json.loads(out)["tree_size"]) == (0, 7)


def test_prove_consistency_then_check_offline(env: dict[str, str], tmp_path: Path) -> None:
    seed(11)
    code, out, _ = run("audit", "prove", "--consistency", "6", "11", "--json")
    assert code == 0, out
    proof = json.loads(out)
    assert proof["format"] == "firebreak.audit.consistency-proof.v1"
    assert (proof["old_size"], proof["new_size"]) == (6, 11)
    path = tmp_path / "consistency.json"
    path.write_text(out)
    code, text, _ = run(
        "audit", "check-proof", str(path), "--old-root", proof["old_root"],
        "--root", proof["new_root"],
    )  # fmt: skip
    assert (code, text) == (
        0,
        "valid: the tree of 11 events extends the tree of 6; checked against the trusted root\n",
    )
    code, text, _ = run("audit", "check-proof", str(path), "--old-root", proof["new_root"])
    assert (code, text) == (1, "INVALID: the proof's old root is not the trusted old root\n")
    path.write_text(json.dumps(dict(proof, old_size=5)))
    assert run("audit", "check-proof", str(path))[0] == 1


def test_mistakes_are_one_line_errors(env: dict[str, str], tmp_path: Path) -> None:
    ids = seed(3)
    cases = [
        (
            ("audit", "prove", "no-such-event"),
            1,
            "firebreak: no audit event has id 'no-such-event'\n",
        ),
        (
            ("audit", "prove", ids[0], "--size", "4"),
            2,
            "firebreak: tree size 4 is beyond the log's head (3 events)\n",
        ),
        (
            ("audit", "prove", "--consistency", "3", "2"),
            2,
            "firebreak: old size 3 is not between 0 and new size 2\n",
        ),
        (("audit", "prove"), 2, "firebreak: name an EVENT_ID, or --consistency OLD NEW\n"),
    ]
    for args, code, stderr in cases:
        proc = firebreak(env, *args)
        assert (proc.returncode, proc.stderr) == (code, stderr), args
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"format": "something else"}')
    code, _, err = run("audit", "check-proof", str(garbage))
    assert code == 2 and err.startswith(f"firebreak: {garbage}: not a valid proof: ")
    code, _, err = run("audit", "check-proof", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in err
    proof = tmp_path / "proof.json"
    proof.write_text(run("audit", "prove", ids[0], "--json")[1])
    code, _, err = run("audit", "check-proof", str(proof), "--root", "not base64!")
    assert (code, err) == (2, "firebreak: --root: a hash must be standard base64\n")


def test_check_proof_against_kept_signed_checkpoints(env: dict[str, str], tmp_path: Path) -> None:
    """An auditor holding notes and the verifier key, not roots: the root comes from the
    checkpoint of the proof's size once its signature holds; an edited note is refused."""
    ids = seed(4)
    code, old_note, _ = run("audit", "checkpoint", "--note")
    assert code == 0
    seed(3)
    code, new_note, _ = run("audit", "checkpoint", "--note")
    assert code == 0 and new_note.split("\n")[1] == "7"
    (tmp_path / "old.note").write_text(old_note)
    (tmp_path / "new.note").write_text(new_note)
    vkey = run("audit", "keys", "list")[1].split("\t")[0]
    inclusion, consistency = tmp_path / "inclusion.json", tmp_path / "consistency.json"
    inclusion.write_text(run("audit", "prove", ids[2], "--json")[1])
    consistency.write_text(run("audit", "prove", "--consistency", "4", "7", "--json")[1])
    notes = ["--checkpoint", str(tmp_path / "old.note"), "--checkpoint", str(tmp_path / "new.note")]

    offline = {"FIREBREAK_DATABASE_URL": "postgresql://127.0.0.1:1/nowhere"}
    proc = firebreak(offline, "audit", "check-proof", str(inclusion), *notes, "--vkey", vkey)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    assert proc.stdout.endswith("is in the tree of 7 events; checked against the trusted root\n")
    code, out, _ = run("audit", "check-proof", str(consistency), *notes, "--vkey", vkey)
    assert (code, out.startswith("valid: the tree of 7 events extends the tree of 4")) == (0, True)

    other = run("audit", "keys", "rotate")
    assert other[0] == 0
    stranger = run("audit", "keys", "list")[1].splitlines()[-1].split("\t")[0]
    assert stranger != vkey
    code, out, _ = run("audit", "check-proof", str(inclusion), *notes, "--vkey", stranger)
    assert (code, out) == (1, "INVALID: the checkpoint at 7 is not signed by a trusted key\n")

    lines = new_note.split("\n")
    forged_root = "A" * 43 + "="
    (tmp_path / "new.note").write_text("\n".join([*lines[:2], forged_root, *lines[3:]]))
    code, out, _ = run("audit", "check-proof", str(inclusion), *notes, "--vkey", vkey)
    assert (code, out) == (1, "INVALID: the checkpoint at 7 is not signed by a trusted key\n")
    only_old = ["--checkpoint", str(tmp_path / "old.note"), "--vkey", vkey]
    code, out, _ = run("audit", "check-proof", str(inclusion), *only_old)
    assert (code, out) == (1, "INVALID: no kept checkpoint has tree size 7 (kept: 4)\n")
    code, _, err = run("audit", "check-proof", str(inclusion), *notes)
    assert code == 2 and "--checkpoint needs the key that signed it" in err
