"""Ed25519 key for signed checkpoints: generated on first use (mode 0600), public key exportable.

A checkpoint signature over (position, head hash, time) lets an auditor holding only the public
key prove that the log up to that point was not rewritten afterwards, even by someone able to
recompute every hash.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from orchestrator.errors import CryptoError


class CheckpointSigner:
    """The signing key at `path`, created there the first time something is signed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: Ed25519PrivateKey | None = None

    def _private(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = self._load() if self.path.exists() else self._create()
        return self._key

    def _load(self) -> Ed25519PrivateKey:
        try:
            key = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        except (ValueError, TypeError):
            raise CryptoError(f"checkpoint signing key is not valid: {self.path}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise CryptoError(f"checkpoint signing key is not Ed25519: {self.path}")
        return key

    def _create(self) -> Ed25519PrivateKey:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        tmp.replace(self.path)
        return key

    def public_key(self) -> Ed25519PublicKey:
        return self._private().public_key()

    def public_key_pem(self) -> str:
        return public_key_pem(self.public_key())

    def sign(self, message: bytes) -> bytes:
        return self._private().sign(message)


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """Parse an exported public key (PEM), failing with one clear line."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise CryptoError("public key is not a valid PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CryptoError("public key is not an Ed25519 key")
    return key


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw public key: names the key a checkpoint was signed with."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def signature_valid(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
