"""Firebreak's checkpoints as C2SP tlog-checkpoint notes: what the text says, and who signed it.

A checkpoint at position P is the note::

    <origin>
    <P>
    <base64 of the RFC 9162 Merkle root over the event hashes at positions 1..P>
    firebreak-chain <hex hash of the event at P (the chain head; 64 zeros when P = 0)>
    firebreak-time <when it was made, chain.TIMESTAMP_FORMAT>

    — <key name> <base64(key hash || Ed25519 signature of the five lines above)>

The Merkle tree's leaves are the events' hashes (32 raw bytes each, in position order): leaf
hash SHA-256(0x00 || event hash), node hash SHA-256(0x01 || left || right), the empty tree
SHA-256(""). docs/audit-ledger.md repeats this for auditors writing their own verifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from orchestrator.audit.chain import TIMESTAMP_FORMAT, checkpoint_message, timestamp
from orchestrator.audit.merkle import EMPTY_ROOT, InvalidProof, leaf_hash, node_hash
from orchestrator.audit.models import Checkpoint
from orchestrator.audit.notes import (
    CheckpointBody,
    NoteError,
    VerifierKey,
    hint_text,
    parse_note,
)
from orchestrator.audit.signing import fingerprint, signature_valid
from orchestrator.timeutil import as_utc

CHAIN_EXTENSION = "firebreak-chain"
TIME_EXTENSION = "firebreak-time"
ORIGIN_PREFIX = "firebreak.invalid/audit/"
"""Default origin: this prefix and the first signing key's fingerprint (16 hex digits), unique
per installation and stable across key rotations."""

Trusted = Ed25519PublicKey | VerifierKey
"""A key an auditor trusts: a bare public key (PEM) or a named verifier key."""


def default_origin(first_key: Ed25519PublicKey) -> str:
    return ORIGIN_PREFIX + fingerprint(first_key)[:16]


def checkpoint_text(
    origin: str, position: int, root: bytes, head_hash: str, created_at: datetime
) -> str:
    """The note text (unsigned) of a checkpoint."""
    extensions = (f"{CHAIN_EXTENSION} {head_hash}", f"{TIME_EXTENSION} {timestamp(created_at)}")
    return CheckpointBody(origin, position, root, extensions).text()


def from_note(note_text: str) -> Checkpoint:
    """The checkpoint a Firebreak note states (not yet verified); NoteError when it is not one."""
    note = parse_note(note_text)
    body = CheckpointBody.parse(note.text)
    head_hash = body.extension(CHAIN_EXTENSION)
    made = body.extension(TIME_EXTENSION)
    if head_hash is None or made is None:
        raise NoteError(f"checkpoint note lacks its {CHAIN_EXTENSION} or {TIME_EXTENSION} line")
    if not note.signatures:
        raise NoteError("checkpoint note carries no signature")
    try:
        created_at = as_utc(datetime.strptime(made, TIMESTAMP_FORMAT))
        return Checkpoint(
            position=body.size,
            head_hash=head_hash,
            created_at=created_at,
            key_fingerprint="",
            signature=note.signatures[0].signature.hex(),
            root_hash=body.root_hash.hex(),
            note=note_text,
        )
    except (ValueError, ValidationError):
        raise NoteError(f"checkpoint note's {TIME_EXTENSION} is not a valid time") from None


def from_row(row: Any) -> Checkpoint:
    """A row of `audit_checkpoints` as a `Checkpoint`."""
    return Checkpoint(
        position=row.position,
        head_hash=row.head_hash,
        created_at=as_utc(row.created_at),
        key_fingerprint=row.key_fingerprint,
        signature=row.signature,
        root_hash=row.root_hash,
        note=row.note,
    )


@dataclass(frozen=True)
class SignatureCheck:
    """A checkpoint's signatures against the trusted keys, as `KeyUse.key` labels.

    `valid`: trusted keys whose signature holds. `failed`: trusted keys the checkpoint names
    (by note name and key hash, or by fingerprint) whose signature does not hold: forged or
    edited. `claimed`: every key it names. A key named but not trusted is neither: the
    checkpoint is then unverified, not bad (C2SP signed notes ignore unknown keys' lines)."""

    valid: list[str]
    failed: list[str]
    claimed: list[str]


def check_signatures(point: Checkpoint, trusted: Sequence[Trusted]) -> SignatureCheck:
    """`point`'s signatures against `trusted`. The caller checks `fields_unlike_note` first:
    a note's signature covers the note, not the checkpoint's fields."""
    if point.note is None:
        label = f"sha256:{point.key_fingerprint[:16]}"
        keys = [key for key in _bare(trusted) if fingerprint(key) == point.key_fingerprint]
        if not keys:
            return SignatureCheck([], [], [label])
        message = checkpoint_message(point.position, point.head_hash, point.created_at)
        try:
            signature = bytes.fromhex(point.signature)
        except ValueError:
            return SignatureCheck([], [label], [label])
        if any(signature_valid(key, signature, message) for key in keys):
            return SignatureCheck([label], [], [label])
        return SignatureCheck([], [label], [label])
    note = parse_note(point.note)
    named = [(sig.name, sig.hint) for sig in note.signatures]
    candidates = [k for k in trusted if isinstance(k, VerifierKey)]
    names = {name for name, _ in named}
    candidates += [VerifierKey(name, key) for name in names for key in _bare(trusted)]
    valid = [f"{k.name}+{hint_text(k.hint)}" for k in note.verified_by(candidates)]
    known = {(k.name, k.hint) for k in candidates}
    labels = [f"{name}+{hint_text(hint)}" for name, hint in named]
    failed = [
        label
        for label, key in zip(labels, named, strict=True)
        if key in known and label not in valid
    ]
    return SignatureCheck(valid, failed, labels)


def signers(point: Checkpoint, trusted: Sequence[Trusted]) -> list[str]:
    """The trusted keys with a valid signature on `point`, as `KeyUse.key` labels. A note
    checkpoint whose fields differ from what its note states has none: the signature covers
    the note, not the fields."""
    if fields_unlike_note(point):
        return []
    return check_signatures(point, trusted).valid


def signed_root(point: Checkpoint, trusted: Sequence[Trusted]) -> bytes:
    """The Merkle root `point` states, once a trusted key's signature on it holds: what an
    auditor checks a proof against offline. InvalidProof when it is not signed by one of
    `trusted`, or predates Merkle roots."""
    if point.root_hash is None:
        raise InvalidProof(
            f"the checkpoint at {point.position} predates Merkle roots: it states no root"
        )
    if not signers(point, trusted):
        raise InvalidProof(f"the checkpoint at {point.position} is not signed by a trusted key")
    return bytes.fromhex(point.root_hash)


def _bare(trusted: Sequence[Trusted]) -> list[Ed25519PublicKey]:
    return [k.key if isinstance(k, VerifierKey) else k for k in trusted]


STATED_FIELDS = ("position", "head_hash", "root_hash", "signature")
"""The checkpoint fields a signed note states (its signature line carries the signature)."""


def fields_unlike_note(point: Checkpoint) -> list[str]:
    """The `STATED_FIELDS` of a note checkpoint that differ from what its note states, or
    ``["note"]`` when the note is not one; empty for a checkpoint without a note."""
    if point.note is None:
        return []
    try:
        stated = from_note(point.note)
    except NoteError:
        return ["note"]
    return [f for f in STATED_FIELDS if getattr(stated, f) != getattr(point, f)]


class RootAccumulator:
    """The RFC 9162 tree hash (`merkle`'s hashing) of a growing list of leaves, in O(log n)
    memory: the perfect subtrees of the tree so far (a compact range), merged as leaves
    arrive, so `verify` gets the root at every checkpoint in its one walk of the chain."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []
        self.size = 0

    def add(self, event_hash: bytes) -> None:
        size, digest = 1, leaf_hash(event_hash)
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, digest = left_size + size, node_hash(left, digest)
        self._stack.append((size, digest))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        digest = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            digest = node_hash(left, digest)
        return digest
