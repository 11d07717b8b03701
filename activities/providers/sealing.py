"""How every evidence store seals an item and proves, on read, that it is the item recorded.

An item's name is the SHA-256 of its plaintext, so the digest in the audit ledger says which
bytes were collected. At rest it is AES-256-GCM ciphertext under the key ring with the digest as
associated data: a blob moved to another digest's name, altered, or sealed under a key the ring
no longer holds fails to open, and the plaintext is hashed again before anyone sees it. The
local and the S3 store differ only in where the blob lives; what the blob is, and how a reader
decides whether to trust it, is decided here once.
"""

from __future__ import annotations

import hashlib
import re

from activities.errors import IntegrityFailure, ResourceNotFound
from orchestrator.errors import CryptoError
from orchestrator.security.keyring import KeyRing

DIGEST = re.compile(r"^[0-9a-f]{64}$")


def checked_digest(digest: str) -> str:
    """`digest` if it is a lowercase sha256 hex digest; anything else names no evidence (and
    never reaches a file path or an object key)."""
    if not DIGEST.match(digest):
        raise ResourceNotFound(f"not a sha256 digest: {digest[:80]!r}")
    return digest


def digest_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def seal(keyring: KeyRing | None, content: bytes) -> tuple[str, bytes]:
    """The item's digest and the blob to store for it (plaintext only without a key ring)."""
    digest = digest_of(content)
    return digest, keyring.seal(content, aad=digest.encode()) if keyring else content


def unseal(keyring: KeyRing | None, digest: str, stored: bytes) -> bytes:
    """The plaintext of the blob stored as `digest`, or `IntegrityFailure` naming the digest."""
    try:
        content = keyring.open(stored, aad=digest.encode()) if keyring else stored
    except CryptoError as exc:
        raise IntegrityFailure(f"evidence {digest} cannot be opened: {exc.detail}") from None
    if digest_of(content) != digest:
        raise IntegrityFailure(f"evidence {digest} does not match its digest")
    return content
