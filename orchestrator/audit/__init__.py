"""The audit event store: one append-only, hash-chained, verifiable log of everything Firebreak
does. This package's names below are its whole public surface; everything else is internal.
"""

from __future__ import annotations

from orchestrator.audit.models import Checkpoint, QueryPage, VerificationReport
from orchestrator.audit.signing import CheckpointSigner, load_public_key
from orchestrator.audit.store import EventStore, StreamAppend
from orchestrator.db import make_engine
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import Settings

__all__ = [
    "Checkpoint",
    "CheckpointSigner",
    "EventStore",
    "QueryPage",
    "StreamAppend",
    "VerificationReport",
    "load_public_key",
    "open_event_store",
]


def open_event_store(settings: Settings) -> EventStore:
    """The store configured by `settings`: its database, key ring and checkpoint signing key.

    The key ring is created on first use; the signing key only when a checkpoint is first signed.
    """
    return EventStore(
        make_engine(settings.db_url),
        keyring=KeyRing.load_or_create(settings.keyring_path),
        signer=CheckpointSigner(settings.signing_key_path),
    )
