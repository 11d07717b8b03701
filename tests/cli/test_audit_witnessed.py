"""`firebreak audit verify --checkpoint` with C2SP notes (a file, a witness directory, a URL,
an S3 witness's bucket on a real moto server) and `--vkey`, and `firebreak audit keys
rotate|list`, as an auditor and an operator use them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.witnesses import CheckpointActivities, witnesses_from
from orchestrator.audit import open_event_store
from orchestrator.settings import load_settings
from tests.audit.test_kept_checkpoints import cut_tail_and_cover_it_up
from tests.cli.test_audit_kept_checkpoints import served
from tests.cli.test_db_audit_keys import env, run, seed
from tests.support.providers import S3Endpoint

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


def test_verify_and_check_proof_read_the_s3_witness_the_worker_publishes_to(
    env: dict[str, str],
    tmp_path: Path,
    s3_server: S3Endpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's S3 witness and the auditor's command share FIREBREAK_S3_* (endpoint,
    credential variables): what the scheduled checkpoint put there is what verify reads."""
    _, bucket = s3_server.new_bucket(monkeypatch)
    for name, value in {
        "FIREBREAK_WITNESSES": json.dumps([f"s3://{bucket}/ledger"]),
        "FIREBREAK_S3_ENDPOINT": s3_server.url,
        "FIREBREAK_S3_ACCESS_KEY_ENV": "CONTRACT_S3_ACCESS",
        "FIREBREAK_S3_SECRET_KEY_ENV": "CONTRACT_S3_SECRET",
    }.items():
        monkeypatch.setenv(name, value)
    run("db", "upgrade")
    seed()
    settings = load_settings()
    store = open_event_store(settings)
    try:
        activities = CheckpointActivities(store, witnesses_from(settings))
        outcome = asyncio.run(ActivityEnvironment().run(activities.checkpoint))
    finally:
        store.engine.dispose()
    assert (outcome.position, outcome.published) == (5, [f"s3://{bucket}/ledger/"])
    vkey = run("audit", "keys", "list")[1].split("\t")[0]
    source = f"s3://{bucket}/ledger"

    code, out, err = run("audit", "verify", "--vkey", vkey, "--checkpoint", source)
    assert (code, err) == (0, "")
    assert out.startswith("intact: 5 events") and ", 2 kept checkpoints" in out  # latest + /5
    first = json.loads(run("audit", "query", "--json")[1].splitlines()[1])
    proof = tmp_path / "proof.json"
    proof.write_text(run("audit", "prove", first["id"], "--json")[1])
    code, out, err = run("audit", "check-proof", str(proof), "--checkpoint", source, "--vkey", vkey)
    assert (code, err) == (0, ""), err
    assert out.endswith("is in the tree of 5 events; checked against the trusted root\n")

    store = open_event_store(load_settings())
    try:
        cut_tail_and_cover_it_up(store, keep=3)
    finally:
        store.engine.dispose()
    code, out, _ = run("audit", "verify", "--vkey", vkey, "--checkpoint", source)
    assert code == 1
    assert out.startswith("TAMPERED at position 4: kept checkpoint at position 5")


def test_an_s3_witness_that_cannot_be_read_is_one_line_and_exit_2(
    env: dict[str, str], s3_server: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, bucket = s3_server.new_bucket(monkeypatch)
    monkeypatch.setenv("FIREBREAK_S3_ENDPOINT", s3_server.url)
    monkeypatch.setenv("FIREBREAK_S3_ACCESS_KEY_ENV", "CONTRACT_S3_ACCESS")
    monkeypatch.setenv("FIREBREAK_S3_SECRET_KEY_ENV", "CONTRACT_S3_SECRET")
    run("db", "upgrade")
    s3.put_object(Bucket=bucket, Key="ledger/checkpoints/9", Body=b"origin\n9\nnot-base64!\n\n")

    def refused(source: str) -> str:
        code, out, err = run("audit", "verify", "--checkpoint", source)
        assert (code, out, err.count("\n")) == (2, "", 1), err
        assert err.startswith(f"firebreak: --checkpoint {source}")  # or the object in it
        return err

    err = refused(f"s3://{bucket}/ledger")
    assert f"s3://{bucket}/ledger/checkpoints/9: not JSON or JSON Lines, nor a signed note" in err
    assert "no checkpoint under the prefix" in refused(f"s3://{bucket}/nothing-here")
    assert "no such bucket 'fb-not-a-bucket'" in refused("s3://fb-not-a-bucket/ledger")
    assert "not s3://bucket/prefix" in refused("s3:///ledger")
    monkeypatch.setenv("CONTRACT_S3_SECRET", "wrong-secret-4711")
    err = refused(f"s3://{bucket}/ledger")
    assert "access denied (SignatureDoesNotMatch)" in err and "wrong-secret-4711" not in err
    monkeypatch.delenv("CONTRACT_S3_ACCESS")
    assert "environment variable CONTRACT_S3_ACCESS is not set" in refused(f"s3://{bucket}/l")


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
    assert code == 3, out
    assert out.startswith("UNVERIFIED: the chain is intact") and "TAMPERED" not in out
    new_label = "+".join(new_vkey.split("+")[:2])
    [untrusted] = [line for line in out.splitlines() if "not trusted:" in line]
    assert untrusted.startswith("  not trusted: stored checkpoint at ")
    assert untrusted.endswith(f", signed by {new_label}")
    code, out, _ = run("audit", "verify", "--public-key", str(old_file), "--json")
    report = json.loads(out)
    assert (code, report["verdict"], report["ok"]) == (3, "unverified", False)
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
