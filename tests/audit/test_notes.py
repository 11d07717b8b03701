"""C2SP signed notes and tlog checkpoints against the published vectors of Go's
golang.org/x/mod/sumdb/note (its package documentation and tests): the same bytes come out of
signing with the published key, the published note verifies, and every forgery fails."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from orchestrator.audit import merkle
from orchestrator.audit.checkpoints import RootAccumulator
from orchestrator.audit.notes import (
    CheckpointBody,
    NoteError,
    VerifierKey,
    parse_note,
    sign_note,
)

# golang.org/x/mod/sumdb/note: ExampleSign / ExampleOpen.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
SIGNED = (
    TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
    "qfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def peter_private() -> Ed25519PrivateKey:
    raw = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert raw[0] == 1
    return Ed25519PrivateKey.from_private_bytes(raw[1:])


def test_signing_with_the_published_key_gives_the_published_note() -> None:
    assert sign_note(TEXT, "PeterNeumann", peter_private()) == SIGNED
    vkey = VerifierKey("PeterNeumann", peter_private().public_key())
    assert vkey.text() == PETER_VKEY
    assert f"{vkey.hint:08x}" == "c74f20a3"


def test_the_published_note_verifies_and_forgeries_do_not() -> None:
    vkey = VerifierKey.parse(PETER_VKEY)
    note = parse_note(SIGNED.encode())
    assert note.text == TEXT
    assert note.verified_by([vkey]) == [vkey]
    forged = parse_note(SIGNED.replace("cryptography", "cryptographY"))
    assert forged.verified_by([vkey]) == []
    other = VerifierKey("PeterNeumann", Ed25519PrivateKey.generate().public_key())
    assert parse_note(SIGNED).verified_by([other]) == []
    renamed = parse_note(SIGNED.replace("— PeterNeumann", "— EnochRoot"))
    assert renamed.verified_by([vkey]) == []


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # hash mismatch
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper case
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a3+!!!!",
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not Ed25519
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        VerifierKey.parse(vkey)


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        (TEXT, "no blank line"),
        (SIGNED.rstrip("\n"), "must end with a newline"),
        (SIGNED.replace("— ", "- "), "does not start with"),
        (SIGNED.replace("x08go/", "x08go*"), "not valid base64"),
        (SIGNED.replace("If you", "If\tyou"), "control character"),
        (TEXT + "\n— PeterNeumann AAAA\n", "too short"),
        (TEXT + "\n— Peter Neumann x08go/ZJ\n", "is not '— <name> <signature>'"),
    ],
)
def test_malformed_notes_are_refused_with_a_reason(note: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        parse_note(note)


def test_a_checkpoint_body_round_trips_and_is_strict() -> None:
    body = CheckpointBody("example.com/log", 42, bytes(range(32)), ("firebreak-chain ab",))
    assert body.text() == (
        "example.com/log\n42\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nfirebreak-chain ab\n"
    )
    assert CheckpointBody.parse(body.text()) == body
    assert body.extension("firebreak-chain") == "ab"
    assert body.extension("missing") is None
    root = base64.b64encode(bytes(32)).decode()
    for text, reason in [
        (f"log\n042\n{root}\n", "not a decimal"),
        (f"log\n-1\n{root}\n", "not a decimal"),
        ("log\n1\nAAAA\n", "not 32 bytes"),
        ("log\n1\n", "needs an origin"),
        (f" log\n1\n{root}\n", "empty or padded"),
    ]:
        with pytest.raises(NoteError, match=reason):
            CheckpointBody.parse(text)
    key = Ed25519PrivateKey.generate()
    note = parse_note(sign_note(body.text(), "example.com/log", key))
    assert note.verified_by([VerifierKey("example.com/log", key.public_key())])


def test_the_incremental_root_is_the_merkle_tree_hash() -> None:
    leaves = [bytes([i]) * 32 for i in range(13)]
    roots = RootAccumulator()
    assert roots.root() == merkle.EMPTY_ROOT
    for n, leaf in enumerate(leaves, 1):
        roots.add(leaf)

        assert roots.root() == recursive_root(leaves[:n])


def recursive_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 as written: the recursive definition."""
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    k = merkle.split_point(len(leaves))
    return merkle.node_hash(recursive_root(leaves[:k]), recursive_root(leaves[k:]))


def test_the_documented_example_verifies_with_the_documented_key() -> None:
    """docs/audit-ledger.md's example note is a real one: an auditor can test their verifier
    on it."""
    doc = (Path(__file__).parents[2] / "docs" / "audit-ledger.md").read_text()
    section = doc[doc.index("## Signed checkpoints") :]
    example = section.split("```\n")[1]
    found = re.search(r"`(firebreak\.invalid/audit/\S+\+\S+\+\S+)`", section)
    assert found is not None
    vkey = VerifierKey.parse(found[1])
    note = parse_note(example)
    assert note.verified_by([vkey]) == [vkey]
    body = CheckpointBody.parse(note.text)
    assert (body.size, body.extension("firebreak-chain") is not None) == (5, True)
