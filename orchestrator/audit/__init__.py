"""The audit event store: one append-only, hash-chained, verifiable log of everything Firebreak
does. The names below are the store's whole public surface; importing them never pulls in the
API, so activities import the store from here.

Beside it, for the front ends only: `orchestrator.audit.service` (the auditors' reads, off the
event loop, shared by the API and the console) and `orchestrator.audit.views` (the auditors'
endpoints; FastAPI). Everything else (`schema`, `chain`, `fields`, `signing`, `verify`, `notes`,
`checkpoints`, `keys`) is internal; `chain`'s docstring says how the hash is computed,
`checkpoints`' what a checkpoint note says, `merkle` (pure RFC 9162 hashing and proof
algorithms, importable by anyone who checks proofs) how the Merkle tree is.
"""

from __future__ import annotations

from orchestrator.audit.checkpoints import from_note as checkpoint_from_note
from orchestrator.audit.checkpoints import signed_root
from orchestrator.audit.merkle import InvalidProof
from orchestrator.audit.models import (
    AuditFilter,
    Checkpoint,
    ExportFormat,
    KeyUse,
    QueryPage,
    SigningKey,
    UnverifiedCheckpoint,
    Verdict,
    VerificationReport,
)
from orchestrator.audit.notes import NoteError, VerifierKey
from orchestrator.audit.proofs import (
    ConsistencyProof,
    InclusionProof,
    decode_hash,
    encode_hash,
    parse_proof,
)
from orchestrator.audit.signing import CheckpointSigner, load_public_key
from orchestrator.audit.store import EventStore, StreamAppend
from orchestrator.audit.tree import MerkleTree
from orchestrator.db import make_engine as _make_engine
from orchestrator.security.keyring import KeyRing as _KeyRing
from orchestrator.settings import Settings as _Settings

__all__ = [
    "AuditFilter",
    "Checkpoint",
    "CheckpointSigner",
    "ConsistencyProof",
    "EventStore",
    "ExportFormat",
    "InclusionProof",
    "InvalidProof",
    "KeyUse",
    "MerkleTree",
    "NoteError",
    "QueryPage",
    "SigningKey",
    "StreamAppend",
    "UnverifiedCheckpoint",
    "Verdict",
    "VerificationReport",
    "VerifierKey",
    "checkpoint_from_note",
    "decode_hash",
    "encode_hash",
    "load_public_key",
    "open_event_store",
    "parse_proof",
    "signed_root",
]


def open_event_store(settings: _Settings) -> EventStore:
    """The store configured by `settings`: its database, key ring and checkpoint signing key.

    The key ring is created on first use; the signing key only when a checkpoint is first signed.
    """
    return EventStore(
        _make_engine(settings.db_url),
        keyring=_KeyRing.load_or_create(settings.keyring_path),
        signer=CheckpointSigner(settings.signing_key_path),
        origin=settings.checkpoint_origin,
    )
