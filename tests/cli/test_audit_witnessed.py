"""`firebreak audit verify --checkpoint` with C2SP notes (a file, a witness directory, a URL)
and `--vkey`, and `firebreak audit keys rotate|list`, as an auditor and an operator use them."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.audit import open_event_store
from orchestrator.settings import load_settings
from tests.audit.test_kept_checkpoints import cut_tail_and_cover_it_up
from tests.cli.test_audit_kept_checkpoints import served
from tests.cli.test_db_audit_keys import env, run, seed

__all__ = ["env", "served"]


def test_verify_against_a_witness_directory_note_file_and_url(
    env: dict[str, str], tmp_path: Path, served: tuple[Path, str]
) -> None:
    run("db", "upgrade")
    seed()
    code, note, _ = run("audit", "checkpoint", "--note")
    assert code == 0 and note.split("\n")[1] == "5"
    witness, url = served
    (witness / "checkpoints").mkdir()
    (witness / "checkpoints" / "5").write_text(note)
    (witness / "checkpoint").write_text(note)
    code, listed, _ = run("audit", "keys", "list")
    vkey = listed.split("\t")[0]
    assert code == 0 and listed.rstrip().endswith("active")

    for source in (str(witness), str(witness / "checkpoint"), f"{url}/checkpoint"):
        code, out, err = run("audit", "verify", "--vkey", vkey, "--checkpoint", source)
        assert code == 0, err
        assert "kept checkpoints" in out and f"signed by {'+'.join(vkey.split('+', 2)[:2])}:" in out

    store = open_event_store(load_settings())
    try:
        cut_tail_and_cover_it_up(store, keep=3)
    finally:
        store.engine.dispose()
    assert run("audit", "verify", "--vkey", vkey)[0] == 0, "alone, the database looks intact"
    code, out, _ = run("audit", "verify", "--vkey", vkey, "--checkpoint", str(witness))
    assert code == 1
    assert out.startswith("TAMPERED at position 4: kept checkpoint at position 5")


def test_rotate_and_list_keys_and_old_checkpoints_still_verify(
    env: dict[str, str], tmp_path: Path
) -> None:
    run("db", "upgrade")
    seed()
    assert run("audit", "checkpoint")[0] == 0
    old_pem = run("audit", "public-key")[1]
    code, out, _ = run("audit", "keys", "rotate")
    assert code == 0 and out.startswith("active checkpoint key: ")
    new_vkey = out.removeprefix("active checkpoint key: ").strip()
    assert run("audit", "public-key")[1] != old_pem
    assert run("audit", "checkpoint")[0] == 0

    code, out, _ = run("audit", "keys", "list", "--json")
    keys = json.loads(out)
    assert [k["verifier_key"] for k in keys][1] == new_vkey
    assert keys[0]["retired_at"] and keys[1]["retired_at"] is None
    assert keys[0]["public_key_pem"] == old_pem

    code, out, err = run("audit", "verify", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"], err
    assert sorted(u["checkpoints"] for u in report["keys"]) == [1, 1]

    old_file = tmp_path / "old.pem"
    old_file.write_text(old_pem)
    code, out, _ = run("audit", "verify", "--public-key", str(old_file))
    assert code == 1 and "no valid signature by the trusted key" in out
    old_vkey = keys[0]["verifier_key"]
    code, out, _ = run("audit", "verify", "--vkey", old_vkey, "--vkey", new_vkey)
    assert code == 0, out

    code, out, _ = run("audit", "query", "--stream", "audit-keys", "--json")
    assert json.loads(out)["type"] == "CheckpointKeyRotated"


def test_bad_verifier_keys_and_notes_are_one_line_and_exit_2(
    env: dict[str, str], tmp_path: Path
) -> None:
    run("db", "upgrade")
    code, _, err = run("audit", "verify", "--vkey", "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbz")
    assert code == 2 and err.count("\n") == 1 and "verifier key" in err
    empty = tmp_path / "empty-witness"
    empty.mkdir()
    code, _, err = run("audit", "verify", "--checkpoint", str(empty))
    assert code == 2 and "holds no checkpoint" in err
    bad = tmp_path / "note"
    bad.write_text("origin\n5\nnot-base64!\n\n— origin AAAAAAAA\n")
    code, _, err = run("audit", "verify", "--checkpoint", str(bad))
    assert code == 2 and err.count("\n") == 1 and "root hash is not valid base64" in err
