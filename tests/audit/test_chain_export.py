"""An auditor re-checks the ledger from `firebreak audit export --format chain` and a signed
checkpoint note with nothing but docs/audit-ledger.md: the event hash, the chain, the note's
Ed25519 signature and the RFC 9162 root are written out here with hashlib, json and
cryptography, importing no Firebreak code to compute them. Sealed fields stay ciphertext, and
the export needs no key ring. A changed byte in the export fails the same check."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from orchestrator.audit import EventStore, open_event_store
from orchestrator.domain import Actor, NewEvent
from orchestrator.settings import load_settings
from tests.audit.test_merkle import naive_mth
from tests.audit.test_proofs_api import http
from tests.cli.test_db_audit_keys import env, run
from tests.ocsf.samples import SAMPLES, SENSITIVE
from tests.ocsf.test_export import seed
from tests.support.app import bearer
from tests.support.principals import Tokens

__all__ = ["env", "http"]

# docs/audit-ledger.md, "Hash chain": the hashed values, in order.
DOCUMENTED_FIELDS = [
    "position",
    "stream_id",
    "version",
    "event_id",
    "type",
    "actor_id",
    "actor_role",
    "occurred_at",
    "recorded_at",
    "payload",
    "encrypted_fields",
    "key_id",
    "prev_hash",
]
SECRET = "sk-live-do-not-export-4711"


def documented_hash(line: dict[str, Any]) -> str:
    values = ["firebreak.audit.event.v1", *(line[f] for f in DOCUMENTED_FIELDS)]
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def check_chain(lines: list[dict[str, Any]]) -> str | None:
    """The first thing wrong with the exported chain, or None."""
    prev = "0" * 64
    for expected, line in enumerate(lines, start=1):
        if line["position"] != expected:
            return f"position {expected} missing"
        if line["prev_hash"] != prev:
            return f"link broken at {expected}"
        if documented_hash(line) != line["hash"]:
            return f"hash of {expected} does not match its fields"
        prev = line["hash"]
    return None


def open_note(note: str, vkey: str) -> list[str]:
    """The note's text lines once the signature by `vkey` (`name+hash+base64(0x01||key)`)
    verifies; raises otherwise."""
    name, key_hash, encoded = vkey.split("+", 2)
    raw = base64.b64decode(encoded)
    assert raw[0] == 1, "Ed25519 verifier key"
    public = Ed25519PublicKey.from_public_bytes(raw[1:])
    text, _, signatures = note.rpartition("\n\n")
    for line in signatures.splitlines():
        dash, signer, blob = line.split(" ")
        data = base64.b64decode(blob)
        if dash == "\u2014" and signer == name and data[:4].hex() == key_hash:
            public.verify(data[4:], (text + "\n").encode())
            return text.split("\n")
    raise AssertionError("no signature line by that key")


@pytest.fixture
def logged(env: dict[str, str]) -> EventStore:
    """A migrated store with one event of every type (their sensitive fields sealed) and one
    that carries non-ASCII text, floats and a sealed API key."""
    assert run("db", "upgrade")[0] == 0
    store = open_event_store(load_settings())
    seed(store)
    store.append(
        "incident-unicode",
        [
            NewEvent(
                id="unicode-1",
                type="StepSucceeded",
                actor=Actor(id="zoë@example.com", role="responder"),
                occurred_at=datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
                payload={"ratio": 0.1, "big": 1e21, "note": "fermé \u2013 止", "api_key": SECRET},
                sensitive=("api_key",),
            )
        ],
    )
    return store


def test_an_auditor_rechecks_the_export_and_the_checkpoint_with_their_own_code(
    logged: EventStore, tmp_path: Path
) -> None:
    code, note, _ = run("audit", "checkpoint", "--note")
    assert code == 0
    code, out, _ = run("audit", "keys", "list", "--json")
    [key] = json.loads(out)
    target = tmp_path / "ledger.chain.jsonl"
    code, _, err = run("audit", "export", "--out", str(target), "--format", "chain")
    events = len(SAMPLES) + 1
    assert code == 0 and f"exported {events} events" in err
    text = target.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]

    assert [list(line) for line in lines] == [[*DOCUMENTED_FIELDS, "hash"]] * events
    assert check_chain(lines) is None
    origin, size, root, chain_head, _time = open_note(note, key["verifier_key"])[:5]
    assert origin == key["name"] and int(size) == events
    assert chain_head == f"firebreak-chain {lines[-1]['hash']}"
    assert base64.b64decode(root) == naive_mth([bytes.fromhex(x["hash"]) for x in lines])

    assert SECRET not in text, "sealed values stay ciphertext: the export needs no key"
    unicode = lines[-1]
    assert json.loads(unicode["encrypted_fields"]) == ["api_key"] and unicode["key_id"]
    assert unicode["occurred_at"] == "0999-01-02T03:04:05.000006Z"
    assert "fermé \u2013 止" in unicode["payload"] and unicode["actor_id"] == "zoë@example.com"
    for line, event_type in zip(lines, SAMPLES, strict=False):
        assert line["type"] == event_type
        assert json.loads(line["encrypted_fields"]) == sorted(SENSITIVE.get(event_type, ()))

    edited = [dict(line) for line in lines]
    edited[2]["payload"] = edited[2]["payload"].replace("}", ',"x":1}', 1)
    assert check_chain(edited) == "hash of 3 does not match its fields"
    swapped = [lines[1], lines[0], *lines[2:]]
    assert check_chain(swapped) == "position 1 missing"
    with pytest.raises(InvalidSignature):
        open_note(note.replace(f"\n{size}\n", f"\n{int(size) - 1}\n", 1), key["verifier_key"])


def test_the_chain_export_filters_and_pages_like_the_others(logged: EventStore) -> None:
    code, out, _ = run("audit", "export", "--out", "-", "--format", "chain", "--after", "3")
    assert code == 0
    positions = [json.loads(line)["position"] for line in out.splitlines()]
    assert positions == list(range(4, len(SAMPLES) + 2))
    code, out, _ = run(
        "audit", "export", "--out", "-", "--format", "chain", "--stream", "incident-unicode"
    )
    [only] = [json.loads(line) for line in out.splitlines()]
    assert only["stream_id"] == "incident-unicode" and documented_hash(only) == only["hash"]
    code, out, err = run("audit", "export", "--out", "-", "--format", "rows")
    assert code == 2 and out == "" and "'rows' is not one of" in err


async def test_the_api_streams_the_same_chain_export(
    http: httpx.AsyncClient, store: EventStore, tokens: Tokens
) -> None:
    seed(store)
    auditor = bearer(tokens.audrey)
    answer = await http.get("/v1/audit/export", params={"format": "chain"}, headers=auditor)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"].endswith('"firebreak-audit.chain.jsonl"')
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert len(lines) == store.head()[0] and check_chain(lines) is None
    responder = await http.get(
        "/v1/audit/export", params={"format": "chain"}, headers=bearer(tokens.ann)
    )
    assert responder.status_code == 403
