"""Ed25519 keys for signed checkpoints: the active one generated on first use (mode 0600),
retired ones kept beside it, public keys exportable.

A checkpoint signature lets an auditor holding only the public key prove that the log up to
that point was not rewritten afterwards, even by someone able to recompute every hash.
Rotation (`rotate`) moves the active key file into ``retired-checkpoint-keys/`` beside it,
named by its fingerprint, and creates a new one: checkpoints signed before keep verifying under the
retired key's public half. A long-running worker notices the rotation (the file changed) and
signs with the new key from its next checkpoint on.
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
        self._stamp: tuple[int, int] | None = None

    @property
    def retired_dir(self) -> Path:
        return self.path.parent / "retired-checkpoint-keys"

    def private_key(self) -> Ed25519PrivateKey:
        """The active key, re-read when its file was replaced (a rotation elsewhere)."""
        stamp = _stamp(self.path)
        if self._key is None or stamp != self._stamp:
            self._key = _load(self.path) if stamp is not None else self._create()
            self._stamp = _stamp(self.path)
        return self._key

    def _create(self) -> Ed25519PrivateKey:
        key = Ed25519PrivateKey.generate()
        _write_private(self.path, key, replace=False)
        return _load(self.path)  # whoever created it first wins; every process signs with it

    def rotate(self) -> Ed25519PrivateKey:
        """Retire the active key (kept in `retired_dir`) and make a new one active."""
        current = self.private_key()
        retired = self.retired_dir / f"{fingerprint(current.public_key())[:16]}.pem"
        _write_private(retired, current, replace=True)
        new = Ed25519PrivateKey.generate()
        _write_private(self.path, new, replace=True)
        self._key, self._stamp = new, _stamp(self.path)
        return new

    def retired_public_keys(self) -> list[Ed25519PublicKey]:
        """The public halves of the keys rotated out, oldest file first."""
        if not self.retired_dir.is_dir():
            return []
        files = sorted(self.retired_dir.glob("*.pem"), key=lambda f: f.stat().st_mtime_ns)
        return [_load(file).public_key() for file in files]

    def trusted_public_keys(self) -> list[Ed25519PublicKey]:
        """The active and retired public keys on this host, when the active one exists."""
        if not self.path.exists():
            return []
        return [self.public_key(), *self.retired_public_keys()]

    def public_key(self) -> Ed25519PublicKey:
        return self.private_key().public_key()

    def public_key_pem(self) -> str:
        return public_key_pem(self.public_key())

    def sign(self, message: bytes) -> bytes:
        return self.private_key().sign(message)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise CryptoError(f"checkpoint signing key is not valid: {path}") from None
    except OSError as exc:
        raise CryptoError(f"cannot read checkpoint signing key {path}: {exc.strerror}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CryptoError(f"checkpoint signing key is not Ed25519: {path}")
    return key


def _write_private(path: Path, key: Ed25519PrivateKey, *, replace: bool) -> None:
    """Write `key` (PKCS#8 PEM, mode 0600) atomically; without `replace`, an existing file
    is kept (two processes creating the first key at once end up with one key)."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    if replace:
        tmp.replace(path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


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
