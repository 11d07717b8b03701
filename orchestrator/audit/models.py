"""The event store's query filters and result shapes, and the auditor endpoints' page.

The API serialises the store's results as they are.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.domain import RecordedEvent


class ExportFormat(StrEnum):
    """How an export writes each event, one JSON object per line.

    `jsonl`: the ledger event itself (`RecordedEvent`, with its hashes, sensitive fields
    decrypted), as the export always wrote it. `ocsf`: its OCSF record
    (`orchestrator.ocsf.to_ocsf`, docs/ocsf.md) for a SIEM. `chain`: the values its hash
    covers exactly as stored (sealed fields as ciphertext), for an auditor who re-checks the
    chain and the checkpoints' Merkle roots with their own tools and no keys.
    """

    jsonl = "jsonl"
    ocsf = "ocsf"
    chain = "chain"


class AuditFilter(BaseModel):
    """The filters of `EventStore.query` that `/v1/audit/events`, `/v1/audit/export`, the
    console's audit page and `EventStore.export` share."""

    model_config = ConfigDict(extra="forbid")

    stream: str | None = None
    types: list[str] | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class QueryPage(BaseModel):
    """One page of a query; pass `next_cursor` as `after_position` for the next (None = last)."""

    model_config = ConfigDict(frozen=True)

    events: list[RecordedEvent]
    next_cursor: int | None


class AuditPage(BaseModel):
    """One page of `GET /v1/audit/events`."""

    items: list[RecordedEvent]
    next_cursor: int | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


class Verdict(StrEnum):
    """What verification found, in the three answers an auditor acts on differently.

    `intact`: the chain holds and every checkpoint is validly signed by a trusted key.
    `tampered`: the database contradicts itself or a trusted signature (`problem` names
    where). `unverified`: nothing contradicts, but some checkpoints are signed only by keys
    the verifier was not told to trust (or no key was given), so they anchor nothing; as
    in C2SP signed notes, a signature by an unknown key is not a bad signature."""

    intact = "intact"
    tampered = "tampered"
    unverified = "unverified"


class UnverifiedCheckpoint(BaseModel):
    """A checkpoint no trusted key has signed, with the keys it says signed it."""

    model_config = ConfigDict(frozen=True)

    position: int
    kept: bool = Field(
        description="Given to verify (`--checkpoint`) rather than stored in the database."
    )
    signed_by: list[str] = Field(
        description="Each signature's key as `<name>+<key hash>` (`sha256:<fingerprint>` "
        "before signed notes): pass the one you trust as `--vkey`."
    )


class VerificationReport(BaseModel):
    """Outcome of walking the chain and the checkpoints; `problem` says what is wrong where.
    `ok` is `verdict == intact`."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    verdict: Verdict
    checked: int
    first_bad_position: int | None = None
    problem: str | None = None
    head_position: int
    head_hash: str
    checkpoints_checked: int = 0
    kept_checked: int = Field(
        0, description="Checkpoints kept outside the database (`verify --checkpoint`) checked."
    )
    keys: list[KeyUse] = Field(
        default_factory=list, description="Which trusted key signed which checkpoints."
    )
    unverified: list[UnverifiedCheckpoint] = Field(
        default_factory=list,
        description="Checkpoints signed by no trusted key (the reason for `unverified`).",
    )


class KeyUse(BaseModel):
    """The checkpoints (stored and kept) one trusted key was found to have signed."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(
        description="`<name>+<key hash>` for signed notes, `sha256:<fingerprint>` before them."
    )
    checkpoints: int
    first_position: int
    last_position: int


class Checkpoint(BaseModel):
    """A signed statement that the chain had `head_hash` at `position` at `created_at`.

    Since signed notes, `note` is the C2SP tlog-checkpoint published to witnesses (tree size =
    `position`, root = `root_hash`), and `signature` its Ed25519 signature (hex); before, the
    signature covered `chain.checkpoint_message` and `note` and `root_hash` are null."""

    model_config = ConfigDict(frozen=True)

    position: int
    head_hash: str
    created_at: datetime
    key_fingerprint: str
    signature: str
    root_hash: str | None = Field(None, description="RFC 9162 Merkle root at `position` (hex).")
    note: str | None = Field(None, description="The signed note, byte for byte as published.")


class SigningKey(BaseModel):
    """A checkpoint signing key as auditors see it (`audit keys list`, `GET /v1/audit/keys`)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Key name in the note's signature lines (the log's origin).")
    key_hash: str = Field(description="8 hex digits: the key hash signature lines start with.")
    verifier_key: str = Field(description="`<name>+<key hash>+<base64(0x01 || key)>`.")
    fingerprint: str = Field(description="SHA-256 of the raw public key (hex).")
    public_key_pem: str
    created_at: datetime
    retired_at: datetime | None = None
